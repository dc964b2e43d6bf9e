"""Bulk import speed: ``huzhu members import`` of N generated members (valid ID numbers, 1–2 plans
each, opening balances), on SQLite and PostgreSQL, in one transaction each.

    .venv/bin/python benchmarks/bench_import.py --members 200000 --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from huzhu.app import build_platform
from huzhu.clock import FixedClock
from huzhu.config import Settings
from huzhu.demo import at, write_pool_csv
from huzhu.ledger.invariants import check_ledger
from huzhu.members.importer import import_members

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_apportionment import postgres_database  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def bench(url: str, csv: Path, label: str) -> tuple[str, int, float, bool]:
    clock = FixedClock(at("2015-03-01"))
    platform = build_platform(Settings(mode="sandbox", database_url=url, data_dir=Path(tempfile.mkdtemp()), plans_dir=REPO / "plans"),
                              clock=clock)
    started = time.perf_counter()
    with platform.session() as session:
        result = import_members(session, path=csv, plans=platform.plans, now=clock.now())
    elapsed = time.perf_counter() - started
    with platform.factory() as session:
        ok = not check_ledger(session)
    platform.engine.dispose()
    return label, result.members, elapsed, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "pool.csv"
        write_pool_csv(csv, count=args.members)
        rows.append(bench(f"sqlite:///{tmp}/import.sqlite", csv, "SQLite"))
        if args.postgres:
            url, drop = postgres_database(args.postgres)
            try:
                rows.append(bench(url, csv, "PostgreSQL"))
            finally:
                drop()
    table = Table(title=f"Import {args.members:,} members from CSV")
    for column in ("database", "members", "seconds", "members / s", "ledger check"):
        table.add_column(column, justify="right")
    for label, members, elapsed, ok in rows:
        table.add_row(label, f"{members:,}", f"{elapsed:.1f}", f"{members / elapsed:,.0f}", "passed" if ok else "FAILED")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
