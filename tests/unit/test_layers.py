"""The import contracts that ``make lint`` checks hold today, and each one fails on a deliberate
violation: a copy of the source tree gets one forbidden import and ``lint-imports`` must name the
broken contract (a contract that cannot fail guards nothing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

VIOLATIONS = {
    "domain-below-adapters": ("claims/_violation.py", "import huzhu.web.core\n"),
    "adapters-independent": ("api/_violation.py", "import huzhu.web\n"),
    "http-layer-below-adapters": ("http/_violation.py", "import huzhu.api.schemas\n"),
    "pure-cores": ("plans/_violation.py", "import sqlalchemy\n"),
    "no-cycles": ("ledger/_violation.py", "import huzhu.claims.models\n"),  # claims already needs ledger
}


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run([str(LINT_IMPORTS), str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_each_contract_fails_on_a_violation(contract: str, tmp_path: Path) -> None:
    shutil.copytree(REPO / "src" / "huzhu", tmp_path / "huzhu",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "static", "templates", "translations"))
    relative, code = VIOLATIONS[contract]
    (tmp_path / "huzhu" / relative).write_text(code, encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, f"{contract} did not notice:\n{result.stdout}"
    names = {c["id"]: c["name"] for c in _contracts()}
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(names[contract]) for line in broken), result.stdout


def _contracts() -> list[dict[str, object]]:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
