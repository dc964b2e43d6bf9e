"""Apportion one case over N members (default 1,000,000), end to end, on SQLite and PostgreSQL.

Measures the run exactly as ``huzhu jobs run`` does it — shares, ledger entries, balances,
suspensions, the public record — in one committed transaction, and compares it with a bare
``INSERT … SELECT`` of the same number of rows into a table shaped like ``ledger_entries``
(same indexes), measured in the same process. Memory: Python's peak allocation during the run
(tracemalloc), which must not grow with the member count.

    .venv/bin/python benchmarks/bench_apportionment.py --members 1000000 \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from huzhu.accounts import service as accounts
from huzhu.app import build_platform
from huzhu.apportionment.service import apportion_due_cases
from huzhu.casework import service as casework
from huzhu.claims import service as claims
from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.config import Settings
from huzhu.db import unit_of_work
from huzhu.identity import make_resident_id
from huzhu.members import service as members
from huzhu.notices.models import Case
from huzhu.sealing.keyring import keyring_of

REPO = Path(__file__).resolve().parents[1]
PLAN = "comprehensive-accident"
PASSWORD = "bench-pass-2016"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ)


def fill_members(platform, count: int) -> None:  # noqa: ANN001
    """Set-based set-up of ``count`` members (90% with 9.00, 10% with 3.05) in the plan."""
    sqlite = platform.engine.dialect.name == "sqlite"
    series = ("WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :count) "
              if sqlite else "")
    source = "seq" if sqlite else "generate_series(1, :count) AS seq(n)"
    pad = "printf('%017d', n)" if sqlite else "lpad(n::text, 17, '0')"
    created = "'2015-06-01 00:00:00.000000'" if sqlite else "TIMESTAMPTZ '2015-06-01 00:00:00+00'"
    day = "'{}'" if sqlite else "DATE '{}'"
    birth, joined = day.format("1980-01-01"), day.format("2015-06-01")
    with unit_of_work(platform.factory) as s:
        base = s.scalar(text("SELECT COALESCE(MAX(id), 0) FROM ledger_accounts"))
        member_base = s.scalar(text("SELECT COALESCE(MAX(id), 0) FROM members"))
        # Names are sealed at rest (huzhu.sealing): one sealed constant serves every synthetic member.
        params = {"count": count, "base": base, "mbase": member_base, "name": keyring_of(s).seal("bench")}
        s.execute(text(f"""{series}
            INSERT INTO ledger_accounts (id, code, kind, debits_must_not_exceed_credits, debits_posted,
                                         credits_posted, debits_pending, credits_pending, created_at)
            SELECT :base + n, NULL, 'member_balance', true, 0, CASE WHEN n % 10 = 0 THEN 305 ELSE 900 END, 0, 0,
                   {created} FROM {source}"""), params)
        s.execute(text(f"""{series}
            INSERT INTO members (id, account_id, relationship, name, id_number_digest, id_number_sealed,
                                 id_number_masked, birth_date, gender, region_code, ledger_account_id, created_at)
            SELECT :mbase + n, NULL, 'self', :name, 'B' || {pad}, 'synthetic', 'synthetic', {birth}, 'F', '110101',
                   :base + n,
                   {created} FROM {source}"""), params)
        s.execute(text(f"""
            INSERT INTO enrollments (member_id, ledger_account_id, plan_code, status, joined_at, joined_on,
                                     coverage_anchor_on, shares_from, status_changed_at)
            SELECT id, ledger_account_id, '{PLAN}', 'active', {created}, {joined}, {joined}, {joined},
                   {created} FROM members WHERE id > :mbase"""), params)
        if not sqlite:
            for table in ("ledger_accounts", "members", "enrollments"):
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))
    if not sqlite:
        with platform.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def approved_case(platform, clock: FixedClock) -> int:  # noqa: ANN001
    """One real claim through the services: filed, investigated, reviewed, in notice."""
    plans, custodian = platform.plans, platform.custodian
    with platform.session() as s:
        inv = accounts.register_account(s, login="inv@bench.example", password=PASSWORD, display_name="inv",
                                       role="investigator", now=clock.now())
        rev = accounts.register_account(s, login="rev@bench.example", password=PASSWORD, display_name="rev",
                                       role="reviewer", now=clock.now())
        acc = accounts.register_account(s, login="13900000000", password=PASSWORD, display_name="c", now=clock.now())
        member = members.add_member(s, account_id=acc.id, name="彭静", now=clock.now(),
                                    id_number=make_resident_id("450321", date(1990, 6, 15), 12, "F"))
        members.join_plan(s, custodian, plans=plans, member=member, plan_code=PLAN, now=clock.now(),
                          idempotency_key="bench-join")
        ids = (inv.id, rev.id, acc.id, member.id)
    clock.set(at("2016-02-10"))
    with platform.session() as s:
        claim = claims.file_claim(s, plans=plans, actor=accounts.account_or_raise(s, ids[2]), member_id=ids[3],
                                  plan_code=PLAN, benefit_code="accidental_death", incident_date=date(2016, 1, 27),
                                  now=clock.now(), beneficiary_name="家属", beneficiary_account="6222020000000000011")
        claims.start_investigation(s, actor=accounts.account_or_raise(s, ids[0]), claim_id=claim.id, now=clock.now())
        claims.submit_report(s, actor=accounts.account_or_raise(s, ids[0]), claim_id=claim.id, company="调查公司",
                             summary="属实", confirmed_incident_date=date(2016, 1, 27), now=clock.now())
        _, case = casework.decide(s, plans=plans, actor=accounts.account_or_raise(s, ids[1]), claim_id=claim.id,
                                approve=True, reason="ok", now=clock.now())
        return case.id


def baseline_insert_select(platform, count: int) -> float:  # noqa: ANN001
    """A bare INSERT … SELECT of ``count`` rows into a table shaped like ledger_entries."""
    pk = "INTEGER PRIMARY KEY" if platform.engine.dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with unit_of_work(platform.factory) as s:
        s.execute(text(f"CREATE TABLE bench_entries (id {pk}, transfer_id BIGINT NOT NULL, account_id BIGINT NOT NULL, "
                       "direction SMALLINT NOT NULL, amount BIGINT NOT NULL)"))
        s.execute(text("CREATE UNIQUE INDEX ux_bench_entries ON bench_entries (account_id, transfer_id, direction)"))
        s.execute(text("CREATE INDEX ix_bench_entries_transfer ON bench_entries (transfer_id)"))
    started = time.perf_counter()
    with unit_of_work(platform.factory) as s:
        s.execute(text("INSERT INTO bench_entries (transfer_id, account_id, direction, amount) "
                       "SELECT 1, ledger_account_id, 1, 10 FROM members ORDER BY id LIMIT :n"), {"n": count})
    return time.perf_counter() - started


def bench(url: str, count: int, label: str) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp())
    clock = FixedClock(at("2015-06-01"))
    settings = Settings(mode="sandbox", database_url=url, data_dir=tmp, plans_dir=REPO / "plans")
    platform = build_platform(settings, clock=clock)
    t0 = time.perf_counter()
    fill_members(platform, count)
    setup = time.perf_counter() - t0
    case_id = approved_case(platform, clock)
    clock.set(at("2016-02-18"))
    tracemalloc.start()
    started = time.perf_counter()
    with unit_of_work(platform.factory) as s:
        run = apportion_due_cases(s, plans=platform.plans, now=clock.now())
        assert run is not None
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with platform.factory() as s:
        case = s.get(Case, case_id)
        rows = s.scalar(text("SELECT COUNT(*) FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id "
                             "WHERE t.kind = 'share'"))
        suspended = s.scalar(text("SELECT COUNT(*) FROM enrollments WHERE status = 'suspended'"))
    baseline = baseline_insert_select(platform, count)
    platform.engine.dispose()
    return {"db": label, "members": count, "setup_s": setup, "run_s": elapsed, "baseline_s": baseline,
            "ratio": elapsed / baseline, "entries": rows, "collected": case.collected_fen, "suspended": suspended,
            "peak_mib": peak / 2**20}


def postgres_database(admin_url: str, prefix: str = "huzhu_bench") -> tuple[str, callable]:
    url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def database_arguments(parser: argparse.ArgumentParser, members: int) -> None:
    """The options every database benchmark takes: how many members, and on which databases."""
    parser.add_argument("--members", type=int, default=members)
    parser.add_argument("--sqlite", action="store_true", help="run on SQLite")
    parser.add_argument("--postgres", default="", help="admin URL; a fresh database is created and dropped")
    parser.add_argument("--db-prefix", default="huzhu_bench", help="name prefix of the PostgreSQL database")


def on_each_database(args: argparse.Namespace, bench: Callable[[str, int, str], dict]) -> list[dict]:
    """``bench(url, members, label)`` on a fresh SQLite file and/or a fresh PostgreSQL database
    (dropped afterwards), as ``args`` (:func:`database_arguments`) ask."""
    results = []
    if args.sqlite:
        results.append(bench(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", args.members, "SQLite"))
    if args.postgres:
        url, drop = postgres_database(args.postgres, args.db_prefix)
        try:
            results.append(bench(url, args.members, "PostgreSQL"))
        finally:
            drop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="", help="admin URL; a fresh database is created and dropped")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(bench(f"sqlite:///{tmp}/bench.sqlite", args.members, "SQLite"))
    if args.postgres:
        url, drop = postgres_database(args.postgres)
        try:
            results.append(bench(url, args.members, "PostgreSQL"))
        finally:
            drop()
    table = Table(title=f"Apportion one 100,000.00 case over {args.members:,} members")
    for column in ("database", "run (s)", "bare INSERT…SELECT (s)", "ratio", "share entries", "collected",
                   "suspended", "Python peak (MiB)", "set-up (s)"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r["db"], f"{r['run_s']:.2f}", f"{r['baseline_s']:.2f}", f"{r['ratio']:.1f}×", f"{r['entries']:,}",
                      f"{r['collected'] / 100:,.2f}", f"{r['suspended']:,}", f"{r['peak_mib']:.1f}", f"{r['setup_s']:.1f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
