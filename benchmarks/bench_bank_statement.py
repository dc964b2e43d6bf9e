"""A day of 1,000,000 statement lines: build, XSD-validate and parse a camt.053 with bounded memory.

The platform must reconcile a day of 1,000,000 lines in at most 60 s. Each phase runs in its own
forked process so its peak resident memory is its own:

1. **write**: ``write_camt053`` streams the statement to a file (lxml ``xmlfile``), then validates it
   against the bundled XSD by reading it back with :class:`Camt053Reader` (as every built message is);
2. **read**: :class:`Camt053Reader` alone: schema validation while parsing (lxml ``iterparse`` with the
   schema), every entry turned into a checked ``StatementEntry``, the closing balance verified;
3. **floors**: a bare ``iterparse`` over the same file touching each ``Ntry`` and dropping it (the
   physical floor of reading it), and the same with the schema (the floor of validating it).

    .venv/bin/python benchmarks/bench_bank_statement.py --entries 1000000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from huzhu.custody.iso20022 import CAMT053, Camt053Reader, StatementEntry, _schema, write_camt053

NTRY = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}Ntry"
START = datetime(2016, 3, 1, 16, 0, tzinfo=UTC)  # 2016-03-02 00:00 in China
TARGET_SECONDS = 60.0


def entries(n: int) -> Iterator[StatementEntry]:
    """Deposits of 9.00–99.99 and every tenth line a payout, one per 80 ms of the day."""
    for i in range(n):
        direction = "DBIT" if i % 10 == 9 else "CRDT"
        yield StatementEntry(f"DEP{i:032d}", 900 + (i * 7919) % 9100, direction,  # type: ignore[arg-type]
                             START + timedelta(milliseconds=80 * i), f"member M{i % 500_000:08d}",
                             bank_reference=f"HZB{i:012d}")


def closing_of(n: int, opening: int) -> int:
    return opening + sum(e.signed_fen for e in entries(n))


def phase_write(path: Path, n: int) -> str:
    opening = 123_456_789
    summary = write_camt053(path, statement_id="HZ20160302S00000001", created_at=START + timedelta(days=1),
                            account_id="HUZHU-CUSTODY-0001", opening_balance_fen=opening,
                            closing_balance_fen=closing_of(n, opening), entries=entries(n),
                            from_to=(START, START + timedelta(days=1)), sequence_number=1)
    return f"{summary.entry_count:,} entries, closing {summary.closing_balance_fen}"


def phase_read(path: Path, _n: int) -> str:
    reader = Camt053Reader(path)
    count = sum(1 for _entry in reader)
    assert reader.summary is not None
    return f"{count:,} entries, closing {reader.summary.closing_balance_fen}"


def _bare(path: Path, schema: etree.XMLSchema | None) -> str:
    count = 0
    for _event, element in etree.iterparse(str(path), events=("end",), tag=NTRY, schema=schema):
        count += 1
        parent = element.getparent()
        element.clear()
        parent.remove(element)
    return f"{count:,} entries"


def phase_floor(path: Path, _n: int) -> str:
    return _bare(path, None)


def phase_floor_schema(path: Path, _n: int) -> str:
    return _bare(path, _schema(CAMT053))


def phase_closing(_path: Path, n: int) -> str:
    """Only generating the entries (part of the write phase's cost, not of the file)."""
    return f"closing {closing_of(n, 0)}"


def _child(phase: Callable[[Path, int], str], path: Path, n: int, conn: object) -> None:
    started = time.perf_counter()
    note = phase(path, n)
    elapsed = time.perf_counter() - started
    conn.send((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, note))  # type: ignore[attr-defined]


def run(phase: Callable[[Path, int], str], path: Path, n: int) -> tuple[float, float, str]:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_child, args=(phase, path, n, child))
    process.start()
    result = parent.recv()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the statement (default: a temp dir)")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bench-camt053-"))
    path = directory / "camt053.xml"
    load = os.getloadavg()
    idle = run(lambda _p, _n: "idle", path, 0)
    rows = [("write (stream out + validate by reading back)", run(phase_write, path, args.entries))]
    size = path.stat().st_size
    rows += [
        ("read: Camt053Reader (schema + entries + balance)", run(phase_read, path, args.entries)),
        ("floor: bare iterparse, no schema", run(phase_floor, path, args.entries)),
        ("floor: iterparse with the schema only", run(phase_floor_schema, path, args.entries)),
        ("(generating the entries alone, twice in write)", run(phase_closing, path, args.entries)),
    ]
    print(f"camt.053 with {args.entries:,} entries: {size / 2**20:,.1f} MiB at {path}")
    print(f"a forked child that does nothing peaks at {idle[1]:,.0f} MiB resident; "
          f"load average before/after: {load[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'phase':<52} {'seconds':>8} {'peak RSS MiB':>13}  result")
    for label, (seconds, rss, note) in rows:
        print(f"{label:<52} {seconds:>8.2f} {rss:>13,.0f}  {note}")
    read, floor = rows[1][1][0], rows[2][1][0]
    print(f"read / bare floor = {read / floor:.1f}x; read / schema floor = {read / rows[3][1][0]:.1f}x; "
          f"target: read ≤ {TARGET_SECONDS:.0f} s -> {'met' if read <= TARGET_SECONDS else 'NOT met'}")
    if args.dir is None:
        path.unlink()
        directory.rmdir()


if __name__ == "__main__":
    main()
