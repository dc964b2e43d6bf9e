"""Merkle-sum trees at scale: a run's share tree, the daily liabilities tree, proofs, run files.

Every scenario runs in a fresh Python process so its peak memory (``ru_maxrss``, the whole process
including the interpreter) is its own. Each row is compared with two physical floors measured in the
same kind of process:

* **bytes floor** — raw ``hashlib.sha256`` over as many bytes as the scenario hashes, fed in 1 MiB
  chunks: what the SHA-256 engine itself needs (this machine has SHA extensions, so it is small);
* **calls floor** — as many ``hashlib.sha256(x).digest()`` calls as the scenario makes, on an 81-byte
  input (a node's size): what Python needs just to call the hash that many times.

Leaves are derived exactly as the server will: pseudonym, salt and salted leaf hash from each
member's 32-byte secret (here a counter, standing for the secret read from the database). The
streaming rows take their input in arrival order: in production the database delivers it ordered
by pseudonym (``ORDER BY``), and the tree's cost does not depend on the order; the "+ sort" rows
sort in Python instead, holding every leaf in memory.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_sumtree.py              # 1M and 10M
    PYTHONPATH=src .venv/bin/python benchmarks/bench_sumtree.py --big 0      # skip the 10M row
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from huzhu_verify.leftover import RULE_V2, allocate
from huzhu_verify.liabilities import liabilities_tree_id
from huzhu_verify.pseudonyms import LEAF_DOMAINS, TreeDerivation, leaf_hash, pool_secret
from huzhu_verify.runcheck import (
    SharerRow,
    level_file_from_run,
    read_header,
    recompute,
    verify_share_document,
    write_run_file,
)
from huzhu_verify.sumtree import (
    InclusionProof,
    LevelFile,
    SumTreeBuilder,
    format_yuan,
    node_hash,
    path_shape,
    root_of,
    verify_inclusion,
)

REPO = Path(__file__).resolve().parents[1]
CASE = "HZ000001"
DAY_TREE = liabilities_tree_id(date(2026, 11, 25))
NODE_BYTES = 1 + 32 + 8 + 32 + 8


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _derivation_bytes(tree_id: str, kind: str) -> int:
    """Bytes hashed to derive one member's leaf: pseudonym, salt and leaf inputs."""
    pseudonym_input = len(f"huzhu/pseudonym/v1|{tree_id}|") + 32
    salt_input = len(f"huzhu/salt/v1|{tree_id}|") + 32
    leaf_input = 1 + len(LEAF_DOMAINS[kind]) + 32 + 32 + 8
    return pseudonym_input + salt_input + leaf_input


def _work(leaves: int, tree_id: str, kind: str) -> tuple[int, int]:
    """(bytes hashed, hash calls) to derive ``leaves`` leaves and build their tree."""
    nodes = max(leaves - 1, 0)
    return leaves * _derivation_bytes(tree_id, kind) + nodes * NODE_BYTES, 3 * leaves + nodes


def _share(i: int) -> int:
    return 10 + (i % 3 == 0)  # a level of 0.10 with leftover fen: shares of 0.10 and 0.11


# ---------------------------------------------------------------- scenarios (one per process)


def _share_rows(members: int) -> Iterator[tuple[bytes, int]]:
    for i in range(members):
        yield i.to_bytes(32, "big"), _share(i)


def _balance_rows(members: int) -> Iterator[tuple[bytes, int]]:
    for i in range(members):
        yield i.to_bytes(32, "big"), 300 + (i * 7919) % 5000


def _pool_rows(pools: int) -> Iterator[tuple[bytes, int]]:
    for j in range(pools):
        yield pool_secret(f"HZ{j + 1:06d}"), 10_000_000


def scenario_run_tree(members: int) -> dict[str, Any]:
    derivation = TreeDerivation(CASE)
    builder = SumTreeBuilder("share", CASE)
    start = time.perf_counter()
    builder.extend((leaf, amount) for _, leaf, amount in derivation.leaf_hashes("share", _share_rows(members)))
    root = builder.root()
    seconds = time.perf_counter() - start
    hashed, calls = _work(members, CASE, "share")
    return {"seconds": seconds, "peak_mib": _peak_mib(), "bytes": hashed, "calls": calls,
            "note": f"{root.count:,} leaves, sum {format_yuan(root.sum)}"}


def scenario_run_tree_sorted(members: int) -> dict[str, Any]:
    derivation = TreeDerivation(CASE)
    start = time.perf_counter()
    leaves = sorted(derivation.leaf_hashes("share", _share_rows(members)))
    builder = SumTreeBuilder("share", CASE)
    builder.extend((leaf, amount) for _, leaf, amount in leaves)
    root = builder.root()
    seconds = time.perf_counter() - start
    hashed, calls = _work(members, CASE, "share")
    return {"seconds": seconds, "peak_mib": _peak_mib(), "bytes": hashed, "calls": calls,
            "note": f"{root.count:,} leaves, every leaf held to sort"}


def scenario_liabilities(members: int, pools: int) -> dict[str, Any]:
    derivation = TreeDerivation(DAY_TREE)
    builder = SumTreeBuilder("liabilities", DAY_TREE)
    start = time.perf_counter()
    builder.extend((leaf, amount) for _, leaf, amount in derivation.leaf_hashes("balance", _balance_rows(members)))
    builder.extend((leaf, amount) for _, leaf, amount in derivation.leaf_hashes("pool", _pool_rows(pools)))
    root = builder.root()
    seconds = time.perf_counter() - start
    hashed, calls = _work(members + pools, DAY_TREE, "balance")
    return {"seconds": seconds, "peak_mib": _peak_mib(), "bytes": hashed, "calls": calls,
            "note": f"{members:,} balances + {pools:,} pools = {format_yuan(root.sum)}"}


def scenario_liabilities_sorted(members: int, pools: int) -> dict[str, Any]:
    derivation = TreeDerivation(DAY_TREE)
    start = time.perf_counter()
    leaves = list(derivation.leaf_hashes("balance", _balance_rows(members)))
    leaves += derivation.leaf_hashes("pool", _pool_rows(pools))
    leaves.sort()
    builder = SumTreeBuilder("liabilities", DAY_TREE)
    builder.extend((leaf, amount) for _, leaf, amount in leaves)
    builder.root()
    seconds = time.perf_counter() - start
    hashed, calls = _work(members + pools, DAY_TREE, "balance")
    return {"seconds": seconds, "peak_mib": _peak_mib(), "bytes": hashed, "calls": calls,
            "note": "every leaf held to sort"}


def scenario_run_file(members: int, workdir: str) -> dict[str, Any]:
    """Server side: pseudonyms and capacities, the allocation (rule 2), leaves, the run file and its root."""
    derivation = TreeDerivation(CASE)
    start = time.perf_counter()
    secrets, capacities = {}, {}
    for i in range(members):
        secret = i.to_bytes(32, "big")
        p = derivation.pseudonym(secret)
        secrets[p] = secret
        capacities[p] = 300 if i % 10 else (i * 7919) % 301
    result = allocate(capacities, 10_000_000, RULE_V2, case_no=CASE)

    def rows() -> Any:
        for p in sorted(capacities):
            share = result.shares[p]
            leaf = leaf_hash("share", derivation.salt(secrets[p]), p, share) if share else None
            yield SharerRow(p, capacities[p], share, leaf)

    path = Path(workdir) / "run.txt"
    header = write_run_file(path, case_no=CASE, plan="comprehensive-accident", rule=2, benefit=10_000_000, cap=300,
                            allocation=result.allocation, rows=rows())
    seconds = time.perf_counter() - start
    paying = header.paying
    pseudonym_bytes = len(f"huzhu/pseudonym/v1|{CASE}|") + 32
    leaf_bytes = _derivation_bytes(CASE, "share") - pseudonym_bytes
    return {"seconds": seconds, "peak_mib": _peak_mib(),
            "bytes": members * pseudonym_bytes + paying * leaf_bytes + max(paying - 1, 0) * NODE_BYTES,
            "calls": members + 2 * paying + max(paying - 1, 0),
            "note": (f"{path.stat().st_size / 2**20:.0f} MiB; level {format_yuan(header.level)}, "
                     f"{header.leftover:,} pay 0.01 more; all in memory (dicts of {members:,})")}


def scenario_level_file(workdir: str) -> dict[str, Any]:
    path, level_path = Path(workdir) / "run.txt", Path(workdir) / "run.lv"
    start = time.perf_counter()
    root = level_file_from_run(path, level_path)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mib": _peak_mib(), "bytes": max(root.count - 1, 0) * NODE_BYTES,
            "calls": max(root.count - 1, 0), "note": f"{level_path.stat().st_size / 2**20:.0f} MiB of levels"}


def scenario_proofs(workdir: str, verify: bool) -> dict[str, Any]:
    header = read_header(Path(workdir) / "run.txt")
    rng = random.Random(7)
    indices = [rng.randrange(header.paying) for _ in range(2000)]
    with LevelFile(Path(workdir) / "run.lv") as levels:
        start = time.perf_counter()
        proofs = [levels.proof(i) for i in indices]
        per_proof = (time.perf_counter() - start) / len(indices)
        leaves = [levels.leaf(i) for i in indices]
    start = time.perf_counter()
    for (h, amount), proof in zip(leaves, proofs, strict=True):
        verify_inclusion(h, amount, proof, header.root, max_leaf=300)
    per_verify = (time.perf_counter() - start) / len(indices)
    depth = len(proofs[0].path)
    if verify:
        return {"seconds": per_verify, "peak_mib": 0.0, "bytes": (depth + 1) * NODE_BYTES, "calls": depth + 1,
                "note": f"{depth} steps, hash and sum each (mean of 2,000)"}
    return {"seconds": per_proof, "peak_mib": _peak_mib(), "bytes": 0, "calls": 0,
            "note": f"{depth} reads of 40 bytes, page cache warm (mean of 2,000)"}


def scenario_recompute(workdir: str) -> dict[str, Any]:
    path = Path(workdir) / "run.txt"
    header = read_header(path)
    start = time.perf_counter()
    report = recompute(path)
    seconds = time.perf_counter() - start
    assert report.ok, report.summary()
    size = path.stat().st_size
    return {"seconds": seconds, "peak_mib": _peak_mib(), "bytes": size + max(header.paying - 1, 0) * NODE_BYTES,
            "calls": max(header.paying - 1, 0),
            "note": f"{header.sharers:,} lines, 2 passes, OK"}


def scenario_floor(total_bytes: int, calls: int) -> dict[str, Any]:
    chunk = os.urandom(1 << 20)
    full, rest = divmod(total_bytes, len(chunk))
    start = time.perf_counter()
    digest = hashlib.sha256()
    for _ in range(full):
        digest.update(chunk)
    digest.update(chunk[:rest])
    digest.digest()
    bytes_seconds = time.perf_counter() - start
    data = os.urandom(NODE_BYTES)
    sha256 = hashlib.sha256
    start = time.perf_counter()
    for _ in range(calls):
        sha256(data).digest()
    calls_seconds = time.perf_counter() - start
    return {"bytes_seconds": bytes_seconds, "calls_seconds": calls_seconds}


# ---------------------------------------------------------------- the browser


@functools.cache
def _uniform_top(size: int, leaf: bytes, amount: int) -> tuple[bytes, int]:
    if size == 1:
        return leaf, amount
    k = 1 << ((size - 1).bit_length() - 1)
    (lh, ls), (rh, rs) = _uniform_top(k, leaf, amount), _uniform_top(size - k, leaf, amount)
    return node_hash(lh, ls, rh, rs), ls + rs


def _proof_document(count: int, index: int) -> dict[str, Any]:
    """A full-depth share proof in a ``count``-leaf tree whose other leaves are alike."""
    secret = hashlib.sha256(b"bench member").digest()
    mine = TreeDerivation(CASE).leaf("share", secret, 204)
    other = hashlib.sha256(b"everybody else").digest()
    h, s, path = mine.leaf_hash, 204, []
    for sibling_is_left, size in path_shape(index, count):
        sh, ss = _uniform_top(size, other, 300)
        path.append((sh, ss))
        h, s = (node_hash(sh, ss, h, s), ss + s) if sibling_is_left else (node_hash(h, s, sh, ss), s + ss)
    return {"case_no": CASE, "secret": secret.hex(), "amount": "2.04", "cap": "3.00",
            "proof": InclusionProof("share", CASE, index, count, tuple(path)).to_json(),
            "root": root_of("share", CASE, count, s, h).to_json()}


def scenario_browser(count: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    document = _proof_document(count, count * 2 // 3)
    assert verify_share_document(document).ok
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(REPO / "src" / "huzhu" / "web" / "static" / "sumproof.js", Path(tmp) / "sumproof.js")
        (Path(tmp) / "index.html").write_text('<!doctype html><script src="sumproof.js"></script>', encoding="utf-8")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        port = int(os.environ.get("HUZHU_BENCH_PORT", "0"))  # 0: any free port
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=tmp))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=os.environ.get("HUZHU_CHROMIUM", "/usr/bin/chromium"),
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
                timing = page.evaluate(
                    """async (doc) => {
                      await window.huzhuVerify.verifyShare(doc);
                      const times = [];
                      for (let i = 0; i < 200; i++) {
                        const t0 = performance.now();
                        const r = await window.huzhuVerify.verifyShare(doc);
                        times.push(performance.now() - t0);
                        if (!r.ok) throw new Error(r.message);
                      }
                      times.sort((a, b) => a - b);
                      return {median: times[100], p99: times[198], steps: doc.proof.path.length};
                    }""", document)
                browser.close()
        finally:
            httpd.shutdown()
    return {"seconds": timing["median"] / 1000, "peak_mib": 0.0, "bytes": 0, "calls": 0,
            "note": f"{timing['steps']} steps in a {count:,}-leaf tree, p99 {timing['p99']:.2f} ms (Chromium)"}


# ---------------------------------------------------------------- driver

SCENARIOS = {
    "run-tree": lambda a: scenario_run_tree(a.members),
    "run-tree-sorted": lambda a: scenario_run_tree_sorted(a.members),
    "liabilities": lambda a: scenario_liabilities(a.members, a.pools),
    "liabilities-sorted": lambda a: scenario_liabilities_sorted(a.members, a.pools),
    "run-file": lambda a: scenario_run_file(a.members, a.workdir),
    "level-file": lambda a: scenario_level_file(a.workdir),
    "proof": lambda a: scenario_proofs(a.workdir, verify=False),
    "verify": lambda a: scenario_proofs(a.workdir, verify=True),
    "recompute": lambda a: scenario_recompute(a.workdir),
    "floor": lambda a: scenario_floor(a.bytes, a.calls),
    "browser": lambda a: scenario_browser(a.members),
}


def _child(scenario: str, **options: Any) -> Any:
    args = [sys.executable, __file__, "--scenario", scenario]
    for key, value in options.items():
        args += [f"--{key}", str(value)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _row(name: str, result: dict[str, Any], target: float | None) -> dict[str, Any]:
    floor = _child("floor", bytes=result["bytes"], calls=result["calls"]) if result["calls"] else None
    return {"name": name, **result, "target": target, "floor": floor}


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000, help="members for the large streaming row (0: skip)")
    parser.add_argument("--pools", type=int, default=1_000)
    parser.add_argument("--workdir", default="")
    parser.add_argument("--bytes", type=int, default=0)
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(SCENARIOS[args.scenario](args)))
        return

    n, rows = args.members, []
    rows.append(_row(f"run share tree, {n:,} members (streaming)", _child("run-tree", members=n), 10.0))
    rows.append(_row(f"run share tree, {n:,} members + sort in Python", _child("run-tree-sorted", members=n), 10.0))
    if args.big:
        rows.append(_row(f"run share tree, {args.big:,} members (streaming)", _child("run-tree", members=args.big),
                         100.0))
    rows.append(_row(f"liabilities tree, {n:,} balances (streaming)",
                     _child("liabilities", members=n, pools=args.pools), 10.0))
    rows.append(_row(f"liabilities tree, {n:,} balances + sort in Python",
                     _child("liabilities-sorted", members=n, pools=args.pools), 10.0))
    with tempfile.TemporaryDirectory() as workdir:
        rows.append(_row(f"server: derive, allocate, write a {n:,}-line run file",
                         _child("run-file", members=n, workdir=workdir), None))
        rows.append(_row("level file from the run file", _child("level-file", workdir=workdir), None))
        rows.append(_row("one inclusion proof from the level file", _child("proof", workdir=workdir), 0.010))
        rows.append(_row("verify one proof (Python)", _child("verify", workdir=workdir), None))
        rows.append(_row(f"recompute a {n:,}-line run file", _child("recompute", workdir=workdir), None))
    if not args.no_browser and Path(os.environ.get("HUZHU_CHROMIUM", "/usr/bin/chromium")).exists():
        rows.append(_row("verify one proof in the browser (sumproof.js)", _child("browser", members=10_000_000),
                         0.050))

    header = ("| what | time | target | bytes floor | ratio | calls floor | ratio | peak RSS | notes |\n"
              "|---|---|---|---|---|---|---|---|---|")
    print(header)
    for row in rows:
        floor = row["floor"]
        target = "" if row["target"] is None else ("≤ " + _fmt_seconds(row["target"])
                                                   + (" ✓" if row["seconds"] <= row["target"] else " ✗"))
        if floor:
            b, c = floor["bytes_seconds"], floor["calls_seconds"]
            floors = (f"{_fmt_seconds(b)} | {row['seconds'] / b:.1f}× | {_fmt_seconds(c)} | "
                      f"{row['seconds'] / c:.1f}×")
        else:
            floors = "– | – | – | –"
        peak = f"{row['peak_mib']:.0f} MiB" if row["peak_mib"] else "–"
        print(f"| {row['name']} | {_fmt_seconds(row['seconds'])} | {target} | {floors} | {peak} | {row['note']} |")


if __name__ == "__main__":
    main()
