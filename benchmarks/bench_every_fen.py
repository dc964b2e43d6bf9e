"""Every fen provable, from the database: a rule-2 run over N members (default 1,000,000) with its run
file and Merkle-sum share tree, the day's liabilities tree over every balance and pool, and member
proofs served from the database and the stored tree levels, on SQLite and/or PostgreSQL.

Targets (issue 10, this 2-core machine): share tree of 1M members ≤ 10 s, liabilities tree of 1M
balances ≤ 10 s, one proof ≤ 10 ms.

    .venv/bin/python benchmarks/bench_every_fen.py --members 1000000 --sqlite \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_apportionment import approved_case, at, database_arguments, fill_members, on_each_database  # noqa: E402

from huzhu.app import build_platform  # noqa: E402
from huzhu.apportionment import service as engine  # noqa: E402
from huzhu.apportionment.models import RunCase  # noqa: E402
from huzhu.clock import FixedClock  # noqa: E402
from huzhu.config import Settings  # noqa: E402
from huzhu.db import unit_of_work  # noqa: E402
from huzhu.members.models import Member  # noqa: E402
from huzhu.notices.models import Case  # noqa: E402
from huzhu.provable import service as provable  # noqa: E402
from huzhu_verify import leafblocks  # noqa: E402
from huzhu_verify.pseudonyms import LEAF_DOMAINS, TreeDerivation  # noqa: E402
from huzhu_verify.sumtree import SumTreeBuilder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def bench(url: str, count: int, label: str) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp())
    clock = FixedClock(at("2015-06-01"))
    settings = Settings(mode="sandbox", database_url=url, data_dir=tmp, plans_dir=REPO / "plans",
                        leftover_rule_v2_from=date(2015, 1, 1))
    platform = build_platform(settings, clock=clock)
    fill_members(platform, count)
    case_id = approved_case(platform, clock)
    t0 = time.perf_counter()
    with unit_of_work(platform.factory) as s:
        provable.ensure_member_secrets(s)  # the members were written in bulk: their secrets, set-based
    secrets_s = time.perf_counter() - t0
    clock.set(at("2016-02-18"))
    tree_s = tree_cpu = 0.0
    publish = engine.publish_case_tree

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        nonlocal tree_s, tree_cpu
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return publish(*args, **kwargs)
        finally:
            tree_s += time.perf_counter() - started
            tree_cpu += time.process_time() - cpu

    engine.publish_case_tree = timed
    started = time.perf_counter()
    with unit_of_work(platform.factory) as s:
        run = engine.apportion_due_cases(s, plans=platform.plans, now=clock.now())
        assert run is not None
    run_s = time.perf_counter() - started
    engine.publish_case_tree = publish
    started, cpu = time.perf_counter(), time.process_time()
    with unit_of_work(platform.factory) as s:
        tree = provable.build_liabilities(s, now=clock.now())
        assert tree is not None
        liabilities = (tree.leaf_count, tree.total_fen)
    liabilities_s, liabilities_cpu = time.perf_counter() - started, time.process_time() - cpu
    load_builds = os.getloadavg()[0]
    with platform.factory() as s:
        floor = floors(s, tree.tree_id)
    share_ms, balance_ms, static_ms = [], [], []
    with platform.factory() as s:
        case = s.get(Case, case_id)
        rc = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
        top = s.scalar(select(Member.id).order_by(Member.id.desc()).limit(1))
        pseudonyms: list[bytes] = []
        for member_id in random.Random(7).sample(range(1, top + 1), 200):
            started = time.perf_counter()
            member = s.get(Member, member_id)
            doc = provable.member_share_document(s, member=member, case=case, run_case=rc)
            share_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            bal = provable.member_balance_document(s, member=member)
            balance_ms.append((time.perf_counter() - started) * 1000)
            assert bal is not None and (doc is not None or member.id == case.claim_id)
            pseudonyms.append(TreeDerivation(case.case_no).pseudonym(bytes(member.verify_secret)))
            s.expunge_all()
        # From the static files alone (what a static host serves): the leaf index by binary search of
        # the keys file, then the proof from the level file (no database).
        stored = s.execute(provable._TREE_SQL, {"kind": "share", "tree": case.case_no}).first()
        for p in pseudonyms:
            started = time.perf_counter()
            provable._proof_from_files(s, stored, p)
            static_ms.append((time.perf_counter() - started) * 1000)
    platform.engine.dispose()
    return {"db": label, "members": count, "secrets_s": secrets_s, "run_s": run_s, "tree_s": tree_s,
            "tree_cpu": tree_cpu, "liabilities_cpu": liabilities_cpu, **floor,
            "leaves": rc.paying_members, "liabilities_s": liabilities_s, "liab_leaves": liabilities[0],
            "share_ms": statistics.median(share_ms), "share_p99": sorted(share_ms)[197],
            "balance_ms": statistics.median(balance_ms), "balance_p99": sorted(balance_ms)[197],
            "static_ms": statistics.median(static_ms), "static_p99": sorted(static_ms)[197],
            "load_builds": load_builds, "load_end": os.getloadavg()[0]}


def floors(session: Session, tree_id: str) -> dict[str, float]:
    """The same-run floor of the liabilities build (wall and CPU of this process), so the ratio means
    something on a loaded machine: the bare SELECT the build makes (the secrets and balances,
    unordered), drained as tuples; then the rows in pseudonym order with the SHA-256 the build makes
    per member (pseudonym, salt, leaf) and the sort, in this one process; then the same plus the tree
    in memory (no files). The build itself hashes in worker processes, so it can go below this floor."""
    sql = text("SELECT m.verify_secret, a.credits_posted - a.debits_posted FROM members m "
               "JOIN ledger_accounts a ON a.id = m.ledger_account_id")
    sha256, salt_prefix = hashlib.sha256, f"huzhu/salt/v1|{tree_id}|".encode("ascii")
    domain = b"\x00" + LEAF_DOMAINS["balance"]
    result = {}
    for name in ("select", "select_hash", "select_hash_tree"):
        started, cpu = time.perf_counter(), time.process_time()
        builder = SumTreeBuilder("liabilities", tree_id)
        if name == "select":
            provable._fetch_all(session, sql)
        else:
            records = provable._member_records(session, tree_id, leafblocks.BlockRunner(0))
            for start in range(0, len(records), 20000):
                batch = records[start:start + 20000]
                leaves = [sha256(domain + sha256(salt_prefix + r[32:64]).digest() + r[:32] + r[64:]).digest()
                          for r in batch]
                if name == "select_hash_tree":
                    builder.extend_batch(leaves, [int.from_bytes(r[64:], "big") for r in batch])
        result[f"floor_{name}_s"] = time.perf_counter() - started
        result[f"floor_{name}_cpu"] = time.process_time() - cpu
    session.rollback()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    database_arguments(parser, 1_000_000)
    args = parser.parse_args()
    results = on_each_database(args, bench)
    table = Table(title=f"every fen provable, {args.members:,} members")
    for name in ("database", "secrets backfill", "run incl. tree", "share tree + run file", "leaves",
                 "liabilities tree", "liab. leaves", "share proof p50/p99", "balance proof p50/p99",
                 "static-file proof p50/p99", "load"):
        table.add_column(name, justify="right")
    for r in results:
        table.add_row(r["db"], f"{r['secrets_s']:.1f} s", f"{r['run_s']:.1f} s", f"{r['tree_s']:.1f} s",
                      f"{r['leaves']:,}", f"{r['liabilities_s']:.1f} s", f"{r['liab_leaves']:,}",
                      f"{r['share_ms']:.2f} / {r['share_p99']:.2f} ms", f"{r['balance_ms']:.2f} / {r['balance_p99']:.2f} ms",
                      f"{r['static_ms']:.2f} / {r['static_p99']:.2f} ms", f"{r['load_builds']:.1f} / {r['load_end']:.1f}")
    Console().print(table)
    for r in results:
        Console().print(f"{r['db']}: CPU of this process: share tree + run file {r['tree_cpu']:.1f} s, liabilities "
                        f"{r['liabilities_cpu']:.1f} s. Same-run floor of the liabilities rows (wall / CPU): bare "
                        f"SELECT {r['floor_select_s']:.1f} / {r['floor_select_cpu']:.1f} s, + the rows in pseudonym "
                        f"order with their SHA-256 {r['floor_select_hash_s']:.1f} / {r['floor_select_hash_cpu']:.1f} s,"
                        f" + the tree in memory {r['floor_select_hash_tree_s']:.1f} / "
                        f"{r['floor_select_hash_tree_cpu']:.1f} s. Load average after the builds / at the end: "
                        f"{r['load_builds']:.1f} / {r['load_end']:.1f}")

if __name__ == "__main__":
    main()
