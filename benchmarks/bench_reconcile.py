"""Reconciling a day of 1,000,000 camt.053 lines with the ledger, in at most 60 s.

Set-up (not timed): a database migrated as in production, with the ledger transfers and the bank
entries (from camt.054) the statement's lines stand for, all but a few hundred: 200 lines have no
booking (the bank booked what the platform never heard of) and 200 differ in amount. The statement
file is written by ``write_camt053`` (the lines of ``bench_bank_statement.py``).

Timed: :func:`huzhu.banking.sync.reconcile_statement` as the sync runs it: the file's SHA-256, the
schema-validating streamed read (``Camt053Reader``), the lines stored in bulk (COPY on PostgreSQL,
executemany on SQLite), every line matched to its booking and ledger transfer (amount, reference, date)
in one UPDATE, the unmatched ones raised as exceptions in one INSERT … SELECT, and the result
published; then the commit.

The same run measures the physical floor: lxml's streamed parse of the same file alone (no schema,
nothing extracted) plus a bare bulk insert of as many rows of the same shape into an unindexed table.
``--reuse`` keeps the set-up of an earlier run in ``--dir`` (or the database) and reconciles the
statement again under the next sequence number (the earlier run's results deleted first);
``--inline-validation`` always validates in the reading process (by default a second process
validates when a core is idle).

    .venv/bin/python benchmarks/bench_reconcile.py --entries 1000000 [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from bench_bank_statement import START, closing_of, entries
from lxml import etree
from sqlalchemy import Engine, func, select, text

from huzhu.banking import statement_lines, sync
from huzhu.banking.sync import reconcile_statement
from huzhu.clock import business_date
from huzhu.custody.bank_client import StatementInfo
from huzhu.custody.bank_models import CustodyException, StatementImport
from huzhu.custody.iso20022 import write_camt053
from huzhu.db import (
    bulk_insert,
    ensure_database,
    make_engine,
    make_session_factory,
    reset_database,
    unit_of_work,
)
from huzhu.migrate import upgrade

TARGET_SECONDS = 60.0
UNBOOKED, WRONG_AMOUNT = 200, 200


def seed_rows(n: int) -> tuple[Iterator[tuple[object, ...]], Iterator[tuple[object, ...]]]:
    created = START + timedelta(days=1)

    def transfers() -> Iterator[tuple[object, ...]]:
        for i, e in enumerate(entries(n)):
            if i % (n // UNBOOKED) == 1:
                continue
            yield (i + 1, f"bench:{i}", "0" * 64, "deposit" if e.direction == "CRDT" else "refund", "posted", e.amount_fen,
                   2, "", e.bank_reference, created)

    def bank_entries() -> Iterator[tuple[object, ...]]:
        for i, e in enumerate(entries(n)):
            if i % (n // UNBOOKED) == 1:
                continue
            amount = e.amount_fen + (1 if i % (n // WRONG_AMOUNT) == 3 else 0)
            day = business_date(e.booked_at)
            yield (e.bank_reference, 1, e.direction, "deposit", amount, e.end_to_end_id, "", "", day, day, e.booked_at,
                   i + 1, created)

    return transfers(), bank_entries()


def floor(engine: Engine, path: Path, n: int) -> tuple[float, float]:
    """Seconds for lxml's bare streamed parse of ``path`` and for a bare bulk insert of ``n`` rows."""
    started = time.perf_counter()
    for _event, element in etree.iterparse(str(path), events=("end",), tag=statement_lines.NTRY,
                                           **statement_lines.PARSE_OPTIONS):
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    parse = time.perf_counter() - started
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        session.execute(text("CREATE TABLE bench_floor_lines (statement_seq BIGINT, line_no BIGINT, "
                             "bank_reference VARCHAR(35), end_to_end_id VARCHAR(35), direction VARCHAR(4), "
                             "amount_fen BIGINT, booking_date DATE, matched BIGINT)"))
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        for start in range(0, n, statement_lines.BATCH):
            bulk_insert(session, "bench_floor_lines", LINE_COLUMNS,
                        [(1, i, f"HZB{i:012d}", f"DEP{i:032d}", "CRDT", i, "2016-03-02", 0)
                         for i in range(start, min(n, start + statement_lines.BATCH))], native=True)
    insert = time.perf_counter() - started
    with unit_of_work(factory) as session:
        session.execute(text("DROP TABLE bench_floor_lines"))
    return parse, insert


LINE_COLUMNS = ("statement_seq", "line_no", "bank_reference", "end_to_end_id", "direction", "amount_fen",
                "booking_date", "matched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep an earlier run's set-up")
    parser.add_argument("--inline-validation", action="store_true", help="validate in this process")
    args = parser.parse_args()
    n = args.entries
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    url = args.database_url or f"sqlite:///{(folder / 'reconcile.sqlite').as_posix()}"
    path = folder / "statement.xml"
    marker = folder / f"set-up-{n}-{'pg' if args.database_url else 'sqlite'}"
    reuse = args.reuse and marker.exists() and path.exists()
    keep_xml = args.reuse and path.exists()  # the statement file of a set-up for the other database
    if args.database_url and not reuse:
        reset_database(url)
    ensure_database(url)
    engine = make_engine(url)
    if not reuse:
        upgrade(engine)
    factory = make_session_factory(engine)
    t0 = time.perf_counter()
    opening = 123_456_789
    if not keep_xml:
        write_camt053(path, statement_id="HZ20160302S00000001", created_at=START + timedelta(days=1),
                      account_id="HUZHU-CUSTODY-0001", opening_balance_fen=opening,
                      closing_balance_fen=closing_of(n, opening), entries=entries(n),
                      from_to=(START, START + timedelta(days=1)), sequence_number=1)
    if not reuse:
        transfers, bank_entries = seed_rows(n)
        with unit_of_work(factory) as session:
            bulk_insert(session, "ledger_transfers", ("id", "idempotency_key", "content_hash", "kind", "status",
                                                      "amount", "entry_count", "memo", "external_ref", "created_at"),
                        transfers)
            bulk_insert(session, "custody_bank_entries", (
                "bank_reference", "notification_seq", "direction", "kind", "amount_fen", "end_to_end_id",
                "reference", "counterparty_account", "value_date", "booking_date", "booked_at", "transfer_id",
                "received_at"), bank_entries)
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        marker.write_text("done\n")
        print(f"set-up: {n:,} lines written ({path.stat().st_size / 1e6:.0f} MB), ledger and bank entries seeded "
              f"in {time.perf_counter() - t0:.1f} s on {engine.dialect.name}")
    with factory() as session:
        seq = (session.scalar(select(func.max(StatementImport.seq))) or 0) + 1
    if seq > 1:  # an earlier run's results, in this benchmark's own database: the next run starts as the first
        with unit_of_work(factory) as session:
            for table in ("reconciliations", "custody_statement_lines", "custody_exceptions"):
                session.execute(text(f"DELETE FROM {table}"))
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
    if args.inline_validation:
        statement_lines.VALIDATE_APART_BYTES = 1 << 62
    print(f"load average before {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    parse_s, insert_s = floor(engine, path, n)
    print(f"floor: lxml streamed parse alone {parse_s:.1f} s + bare bulk insert of {n:,} rows {insert_s:.1f} s "
          f"= {parse_s + insert_s:.1f} s", flush=True)
    info = StatementInfo(seq=seq, statement_id="HZ20160302S00000001", business_date=business_date(START),
                         opening_balance_fen=opening, closing_balance_fen=closing_of(n, opening), entries=n,
                         sha256="")
    store_lines, stored = sync._store_lines, [0.0]

    def timed_store_lines(*args: object, **kwargs: object) -> tuple[str, int, int]:
        begun = time.perf_counter()
        try:
            return store_lines(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            stored[0] = time.perf_counter() - begun

    sync._store_lines = timed_store_lines  # type: ignore[assignment]
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        result = reconcile_statement(session, info=info, xml=path, now=START + timedelta(days=1))
    elapsed = time.perf_counter() - started
    with factory() as session:
        raised = dict(session.execute(select(CustodyException.kind, func.count()).group_by(CustodyException.kind)).all())
    print(f"reconciled {result.lines:,} lines (statement {seq}, validation "
          f"{'inline' if args.inline_validation else 'apart when a core is idle, else inline'}) in {elapsed:.1f} s "
          f"(target ≤ {TARGET_SECONDS:.0f} s, floor {parse_s + insert_s:.1f} s, "
          f"ratio {elapsed / (parse_s + insert_s):.1f}): "
          f"{result.matched:,} matched, {result.unmatched:,} unmatched; exceptions so far {raised}")
    print(f"of which: read, validated and stored the lines {stored[0]:.1f} s; SHA-256, matching, exceptions, "
          f"publishing and commit {elapsed - stored[0]:.1f} s")
    expected_unmatched = len(range(1, n, n // UNBOOKED)) + len(range(3, n, n // WRONG_AMOUNT))
    assert result.unmatched == expected_unmatched, (result.unmatched, expected_unmatched)
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("PASS" if elapsed <= TARGET_SECONDS else "FAIL: over the target")
    engine.dispose()


if __name__ == "__main__":
    main()
