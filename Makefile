# Two commands a newcomer needs (Python 3.11+): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## Replay the source article on a 50,000-member pool in the embedded SQLite database (data/huzhu.sqlite).
## The demo is the sandbox (production is the default mode): it is asked for here.
demo: $(STAMP)
	HUZHU_MODE=sandbox $(BIN)/huzhu demo --reset

## Run every test: SQLite always; PostgreSQL too when HUZHU_TEST_POSTGRES_URL is set (CI sets it).
test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy src

## Serve the web pages and the API on http://127.0.0.1:8000 (sandbox mode, embedded SQLite; loopback only).
serve: $(STAMP)
	HUZHU_MODE=sandbox $(BIN)/huzhu serve

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_apportionment.py --members 1000000 --postgres postgresql://postgres@127.0.0.1:5432/postgres

clean:
	rm -rf $(VENV) data artifacts .pytest_cache
