"""Proofs served from the database's hash tiles at 10,000,000 leaves (issue 9: ≤ 10 ms per proof).

    nice .venv/bin/python benchmarks/bench_log_db.py                          # SQLite, 10M leaves
    nice .venv/bin/python benchmarks/bench_log_db.py --leaves 1000000 --postgres postgresql://…

The ``log_tiles`` rows of a tree of ``--leaves`` leaves are written directly (every level-0 tile holds
the same 256 random hashes, so building the upper levels costs one hash per tile, not ten million;
the proofs read real rows and are verified against the tree's root all the same), with one signed
checkpoint. Then ``huzhu.transparency.log.inclusion`` and ``consistency`` — what the API endpoints
call, checkpoint text and all — are timed for random indexes and sizes, each proof verified.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from huzhu.db import Base, make_engine, make_session_factory
from huzhu.models import LogCheckpoint, LogCosignature, LogTile
from huzhu.transparency.log import SIGNER_INFO_KEY, consistency, inclusion
from huzhu_verify.checkpoint import Checkpoint
from huzhu_verify.merkle import perfect_root, verify_consistency, verify_inclusion
from huzhu_verify.note import Ed25519Signer, sign_note
from huzhu_verify.tiles import TILE_WIDTH, edge_root

KEY = Ed25519Signer("huzhu.example/log", bytes(range(32)))


def build(session_factory, leaves: int) -> bytes:  # noqa: ANN001
    """Write the tiles of a tree of ``leaves`` leaves; returns its root."""
    tile = os.urandom(TILE_WIDTH * 32)
    level, count, content, edge = 0, leaves, tile, []
    with session_factory() as s, s.begin():
        while level == 0 or count:
            full, rest = divmod(count, TILE_WIDTH)
            rows = [{"level": level, "tile_index": i, "hashes": content} for i in range(full)]
            for start in range(0, len(rows), 2000):
                s.execute(insert(LogTile), rows[start:start + 2000])
            partial = content[: rest * 32]
            if rest:
                s.execute(insert(LogTile), [{"level": level, "tile_index": full, "hashes": partial}])
            edge.append(partial)
            root = perfect_root(content)
            content = root * TILE_WIDTH
            count = full
            level += 1
            if not full:
                break
        root_hash = edge_root(edge)
        note = sign_note(Checkpoint(KEY.name, leaves, root_hash).to_text(), [KEY]).decode()
        s.add(LogCheckpoint(tree_size=leaves, root_hash=root_hash.hex(), note=note, signed_at=datetime.now(UTC)))
    return root_hash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) instead of a SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-log-db-") as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'log.sqlite'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine, tables=[LogTile.__table__, LogCheckpoint.__table__, LogCosignature.__table__])
        factory = make_session_factory(engine, info={SIGNER_INFO_KEY: KEY})
        started = time.perf_counter()
        root = build(factory, args.leaves)
        print(f"{engine.dialect.name}: tiles of {args.leaves:,} leaves written in {time.perf_counter() - started:.1f} s "
              f"(not counted)")
        rng = random.Random(9)
        n = args.leaves
        timings: dict[str, list[float]] = {"inclusion": [], "consistency": []}
        cpu: dict[str, list[float]] = {"inclusion": [], "consistency": []}
        read = make_session_factory(engine, read_only=True, info={SIGNER_INFO_KEY: KEY})
        for _ in range(args.proofs):
            index = rng.randrange(n)
            with read() as s:
                t, c = time.perf_counter(), time.process_time()
                got = inclusion(s, index, n)
                timings["inclusion"].append(time.perf_counter() - t)
                cpu["inclusion"].append(time.process_time() - c)
            verify_inclusion(bytes.fromhex(got["leaf_hash"]), index, n, [bytes.fromhex(h) for h in got["proof"]], root)
            old = rng.randrange(1, n)
            with read() as s:
                t, c = time.perf_counter(), time.process_time()
                got = consistency(s, old, n)
                timings["consistency"].append(time.perf_counter() - t)
                cpu["consistency"].append(time.process_time() - c)
            verify_consistency(old, n, [bytes.fromhex(h) for h in got["proof"]], bytes.fromhex(got["from_root"]), root)
        for name, values in timings.items():
            values.sort()
            print(f"{name:<12} median {statistics.median(values) * 1000:.2f} ms, "
                  f"p99 {values[int(len(values) * 0.99) - 1] * 1000:.2f} ms, max {values[-1] * 1000:.2f} ms "
                  f"over {len(values)} proofs (target ≤ 10 ms); CPU of this process: median "
                  f"{statistics.median(cpu[name]) * 1000:.2f} ms")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        engine.dispose()


if __name__ == "__main__":
    main()
