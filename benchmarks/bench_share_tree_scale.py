"""A rule-2 share tree and run file at scale, from the database: ``publish_case_tree`` over a sharing
pool of N synthetic sharers (default 10,000,000), without the ledger run around it (which
``bench_every_fen.py`` measures at 1,000,000). The sharing pool is the run's temporary table, filled
set-based with random secrets, their pseudonyms for the case and capacities (90% at the 3.00 cap, 10%
at 1.00); the equal share is 2.00 with leftover fen, as in a real case.

The same-run floor: the bare SELECT the build makes of the pool (drained as tuples), then the rows in
pseudonym order with the two SHA-256 per sharer (salt, leaf), then the same plus the tree in memory.

    .venv/bin/python benchmarks/bench_share_tree_scale.py --members 10000000 --sqlite
    .venv/bin/python benchmarks/bench_share_tree_scale.py --members 10000000 \\
        --postgres postgresql://postgres@127.0.0.1:5432/postgres --db-prefix wtfen
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_apportionment import at, database_arguments, on_each_database  # noqa: E402

from huzhu.app import build_platform  # noqa: E402
from huzhu.apportionment import service as engine  # noqa: E402
from huzhu.apportionment.shares import allocate_level  # noqa: E402
from huzhu.clock import FixedClock  # noqa: E402
from huzhu.config import Settings  # noqa: E402
from huzhu.db import is_sqlite, unit_of_work  # noqa: E402
from huzhu.provable import service as provable  # noqa: E402
from huzhu_verify.leftover import pivot_point  # noqa: E402
from huzhu_verify.pseudonyms import LEAF_DOMAINS  # noqa: E402
from huzhu_verify.sumtree import SumTreeBuilder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CASE = "HZ900001"


def bench(url: str, count: int, label: str) -> dict[str, float | str]:
    clock = FixedClock(at("2016-02-18"))
    settings = Settings(mode="sandbox", database_url=url, data_dir=Path(tempfile.mkdtemp()), plans_dir=REPO / "plans",
                        leftover_rule_v2_from=date(2015, 1, 1))
    platform = build_platform(settings, clock=clock)
    out: dict[str, float | str] = {"db": label}
    with unit_of_work(platform.factory) as s:
        engine._prepare_pool_table(s)
        started = time.perf_counter()
        if is_sqlite(s):
            s.execute(text("""WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :count)
                INSERT INTO share_pool (member_id, account_id, capacity, pseudonym, secret)
                SELECT n, n, CASE WHEN n % 10 = 0 THEN 100 ELSE 300 END, NULL, randomblob(32) FROM seq"""),
                      {"count": count})
            s.execute(text("UPDATE share_pool SET pseudonym = huzhu_pseudonym(secret, :case)"), {"case": CASE})
        else:
            s.execute(text("""INSERT INTO share_pool (member_id, account_id, capacity, pseudonym, secret)
                SELECT n, n, CASE WHEN n % 10 = 0 THEN 100 ELSE 300 END, NULL,
                       sha256(convert_to(gen_random_uuid()::text || n::text, 'UTF8'))
                FROM generate_series(1, :count) AS seq(n)"""), {"count": count})
            s.execute(text("UPDATE share_pool SET pseudonym = sha256(convert_to('huzhu/pseudonym/v1|' || "
                           "CAST(:case AS text) || '|', 'UTF8') || secret)"), {"case": CASE})
            s.execute(text("ANALYZE share_pool"))
        out["fill_s"] = time.perf_counter() - started
        histogram = {int(c): int(n) for c, n in s.execute(text("SELECT capacity, COUNT(*) FROM share_pool "
                                                               "GROUP BY capacity"))}
        benefit = 2 * count * 100 - 100 * (count // 10) + count // 7  # a level of 2.00 and leftover fen
        allocation = allocate_level(histogram, benefit)
        leftover = engine._leftover_condition(s, allocation, pivot_point(CASE), key="pseudonym")
        rows = engine.sharer_rows(allocation, leftover)
        out["load_before"] = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        root = provable.publish_case_tree(s, run_no="R900001", run_case_id=None, case_no=CASE, plan="bench",
                                          benefit=benefit, cap=300, allocation=allocation, rows=rows,
                                          now=clock.now())
        out["tree_s"], out["tree_cpu"] = time.perf_counter() - started, time.process_time() - cpu
        out["load_after"] = os.getloadavg()[0]
        assert root.count == allocation.paying_members and root.sum == allocation.collected
        out["leaves"] = root.count
        out.update(floors(s, rows))
    platform.engine.dispose()
    return out


def floors(session, rows) -> dict[str, float]:  # noqa: ANN001
    sha256, salt_prefix = hashlib.sha256, f"huzhu/salt/v1|{CASE}|".encode("ascii")
    domain = b"\x00" + LEAF_DOMAINS["share"]
    result = {}
    for name in ("select", "select_hash", "select_hash_tree"):
        started, cpu = time.perf_counter(), time.process_time()
        builder = SumTreeBuilder("share", CASE)
        if name == "select":
            provable._fetch_all(session, rows.order_by(None))
        else:
            for batch in provable._rows_by_pseudonym(session, rows):
                leaves = [sha256(domain + sha256(salt_prefix + secret).digest() + p + share.to_bytes(8, "big")).digest()
                          for p, _, share, secret in batch]
                if name == "select_hash_tree":
                    builder.extend_batch(leaves, [row[2] for row in batch])
        result[f"floor_{name}_s"] = time.perf_counter() - started
        result[f"floor_{name}_cpu"] = time.process_time() - cpu
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    database_arguments(parser, 10_000_000)
    args = parser.parse_args()
    results = on_each_database(args, bench)
    for r in results:
        print(f"{r['db']}, {args.members:,} sharers ({r['leaves']:,} paying): pool filled in {r['fill_s']:.1f} s; "
              f"share tree + run file {r['tree_s']:.1f} s wall / {r['tree_cpu']:.1f} s CPU (load {r['load_before']:.1f}"
              f" before, {r['load_after']:.1f} after). Floor (wall / CPU): bare SELECT {r['floor_select_s']:.1f} / "
              f"{r['floor_select_cpu']:.1f} s, + pseudonym order and two SHA-256 {r['floor_select_hash_s']:.1f} / "
              f"{r['floor_select_hash_cpu']:.1f} s, + the tree in memory {r['floor_select_hash_tree_s']:.1f} / "
              f"{r['floor_select_hash_tree_cpu']:.1f} s")


if __name__ == "__main__":
    main()
