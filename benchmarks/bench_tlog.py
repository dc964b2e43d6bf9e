"""The public log's tiles: writing, proving and replaying at millions of entries, against targets and
against the physical floor measured in the same run.

    nice .venv/bin/python benchmarks/bench_tlog.py                      # 1,000,000 entries, 10,000,000 leaves
    nice .venv/bin/python benchmarks/bench_tlog.py --entries 100000 --leaves 1000000   # a quick run

1. **Append and publish** ``--entries`` realistic public records (canonical JSON, ~200 bytes) with
   ``huzhu.transparency.tiles.TileLogWriter`` (fsync'ed, checkpoint last): target ≤ 60 s for 1M.
2. **Proofs from a ``--leaves`` tile directory** (10M): the directory is written by the same writer
   from synthetic leaf hashes (no entry bundles: ``append_leaf_hashes``), then each proof is computed
   from the tiles by a fresh ``TileHashReader`` and verified against the signed root, as
   ``huzhu-verify`` does. Targets: inclusion and consistency ≤ 10 ms each.
3. **Full replay** of the 1M log (every entry re-hashed, every tile recomputed, root compared):
   target ≤ 30 s.

Floors, measured in the same run: for writing, SHA-256 (hashlib) of every entry plus writing files
of the same sizes at the same paths the same way (temporary file, rename, fsync); for replay,
reading every file plus SHA-256 of every entry; for a proof, reading the same tile files and
computing the same number of hashes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from huzhu.transparency.tiles import TileLogWriter
from huzhu_verify.checkpoint import Checkpoint, open_checkpoint
from huzhu_verify.merkle import (
    consistency_ranges,
    inclusion_ranges,
    perfect_subtrees,
    verify_consistency,
    verify_inclusion,
)
from huzhu_verify.note import Ed25519Signer
from huzhu_verify.tiles import DirectoryTileReader, TileHashReader, TileRef, replay, tile_refs_for_tree

LOG_KEY = Ed25519Signer("huzhu.example/public-log", hashlib.sha256(b"benchmark log key").digest())


def records(count: int) -> list[bytes]:
    """Public records shaped like the platform's (canonical JSON, about 200 bytes each)."""
    out = []
    for i in range(count):
        body = {
            "case": f"C2016-{i // 50_000:04d}", "kind": "share_charged", "member": f"M{i * 7919 % 10_000_019:08d}",
            "recorded_at": f"2016-02-23T11:{i // 60 % 60:02d}:{i % 60:02d}+08:00", "run": 1 + i // 50_000,
            "share_fen": 300 - i % 3, "subject": f"R{i:09d}", "pool_after_fen": 1_000_000 - i % 997,
            "plan": "quark-1-youth-accident",
        }
        out.append(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN201 - any callable
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


# --- 1. writing ------------------------------------------------------------------------------------


def write_log(directory: Path, entries: list[bytes]) -> Checkpoint:
    with TileLogWriter(directory, LOG_KEY) as writer:
        writer.append(entries)
        return writer.publish().checkpoint


def sha256_floor(entries: list[bytes]) -> float:
    sha = hashlib.sha256
    started = time.perf_counter()
    for entry in entries:
        sha(b"\x00" + entry).digest()
    return time.perf_counter() - started


def file_floor(published: Path, scratch: Path) -> float:
    """Write files of the same sizes at the same paths as the log (temporary file + rename, then
    fsync of each file and directory, as the writer does), without computing anything."""
    files = [(ref.path, (published / ref.path).stat().st_size) for ref in tile_refs_for_tree(checkpoint_size(published))]
    made: set[Path] = set()
    written: list[Path] = []
    started = time.perf_counter()
    for relative, size in files:
        path = scratch / relative
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        tmp = path.with_name("." + path.name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(bytes(size))
        os.replace(tmp, path)
        written.append(path)
    for path in written:
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    for directory in made:
        fd = os.open(directory, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - started


def checkpoint_size(directory: Path) -> int:
    return open_checkpoint((directory / "checkpoint").read_bytes(), [LOG_KEY.verifier]).checkpoint.size


# --- 2. proofs from 10M leaves ---------------------------------------------------------------------


def synthetic_leaves(count: int, chunk: int = 65_536) -> Iterator[bytes]:
    sha = hashlib.sha256
    for start in range(0, count, chunk):
        for i in range(start, min(count, start + chunk)):
            yield sha(i.to_bytes(8, "big")).digest()


def write_hash_only_log(directory: Path, leaves: int) -> Checkpoint:
    with TileLogWriter(directory, LOG_KEY, entry_bundles=False) as writer:
        writer.append_leaf_hashes(synthetic_leaves(leaves))
        return writer.publish().checkpoint


class RecordingReader(DirectoryTileReader):
    """A directory reader that notes which tiles it read (for the floor of each proof)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[TileRef] = []

    def read_tile(self, ref: TileRef) -> bytes:
        self.read.append(ref)
        return super().read_tile(ref)


def proof_hash_count(ranges: list[tuple[int, int]]) -> int:
    """Node hashes a tile-backed proof computes and verifies: a perfect subtree of height h read
    from a tile costs 2^(h mod 8) - 1, joining a range's subtrees one less than their number, and
    verification one per proof element."""
    total = 0
    for lo, hi in ranges:
        pieces = perfect_subtrees(lo, hi)
        total += sum((1 << (h % 8)) - 1 for h, _ in pieces) + len(pieces) - 1 + 1
    return total


def floor_for(directory: Path, refs: list[TileRef], hashes: int) -> float:
    sha = hashlib.sha256
    block = bytes(65)
    started = time.perf_counter()
    for ref in refs:
        with open(directory / ref.path, "rb") as handle:
            handle.read()
    for _ in range(hashes):
        sha(block).digest()
    return time.perf_counter() - started


def bench_proofs(directory: Path, checkpoint: Checkpoint, samples: int) -> dict[str, tuple[list[float], list[float]]]:
    size, root = checkpoint.size, checkpoint.root_hash
    rng = random.Random(2016)
    results: dict[str, tuple[list[float], list[float]]] = {"inclusion": ([], []), "consistency": ([], [])}
    # Old roots a verifier would hold from earlier checkpoints (computed outside the timings).
    old_sizes = [rng.randrange(1, size) for _ in range(samples)]
    helper = TileHashReader(DirectoryTileReader(directory), size)
    old_roots = {m: helper.tree_hash(m) for m in old_sizes}
    for n in range(samples):
        index = rng.randrange(size)
        reader = RecordingReader(directory)
        started = time.perf_counter()
        tiles = TileHashReader(reader, size)
        leaf = tiles.leaf_hash(index)
        verify_inclusion(leaf, index, size, tiles.inclusion_proof(index), root)
        elapsed = time.perf_counter() - started
        ranges = [(index, index + 1), *inclusion_ranges(index, size)]
        results["inclusion"][0].append(elapsed)
        results["inclusion"][1].append(floor_for(directory, reader.read, proof_hash_count(ranges)))

        m = old_sizes[n]
        reader = RecordingReader(directory)
        started = time.perf_counter()
        tiles = TileHashReader(reader, size)
        verify_consistency(m, size, tiles.consistency_proof(m), old_roots[m], root)
        elapsed = time.perf_counter() - started
        ranges = consistency_ranges(m, size)
        results["consistency"][0].append(elapsed)
        results["consistency"][1].append(floor_for(directory, reader.read, proof_hash_count(ranges)))
    return results


# --- 3. replay -------------------------------------------------------------------------------------


def replay_floor(directory: Path, entries: list[bytes], size: int) -> float:
    sha = hashlib.sha256
    started = time.perf_counter()
    for ref in tile_refs_for_tree(size):
        with open(directory / ref.path, "rb") as handle:
            handle.read()
    for entry in entries:
        sha(b"\x00" + entry).digest()
    return time.perf_counter() - started


# --- report ----------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def verdict(value: float, target: float) -> str:
    return "[green]met[/green]" if value <= target else f"[red]missed by {value - target:.3g} s[/red]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="records to append, publish and replay")
    parser.add_argument("--leaves", type=int, default=10_000_000, help="leaves of the tile directory for proofs")
    parser.add_argument("--proofs", type=int, default=300, help="proofs of each kind to time")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary directory)")
    args = parser.parse_args()
    console = Console(width=180)
    work = Path(tempfile.mkdtemp(prefix="bench-tlog-", dir=args.workdir))
    try:
        console.print(f"{os.cpu_count()} CPUs; writing under {work}")
        gen_time, entries = timed(records, args.entries)
        entry_bytes = sum(map(len, entries))
        console.print(f"generated {len(entries):,} records, {entry_bytes / len(entries):.0f} bytes on average "
                      f"({gen_time:.1f} s, not counted)")

        rss_before = peak_rss_mib()
        write_time, checkpoint = timed(write_log, work / "log", entries)
        rss_growth = peak_rss_mib() - rss_before
        floor_sha = sha256_floor(entries)
        # The disk is shared with other work: the I/O floor is the better of two runs.
        floor_files = min(file_floor(work / "log", work / f"io-floor-{n}") for n in (1, 2))
        floor_write = floor_sha + floor_files
        files = sum(1 for _ in tile_refs_for_tree(checkpoint.size)) + 1
        console.print(f"wrote {files:,} files; peak RSS grew {rss_growth:.1f} MiB while writing")

        big_time, big = timed(write_hash_only_log, work / "big", args.leaves)
        console.print(f"wrote the {args.leaves:,}-leaf tile directory (synthetic leaf hashes through "
                      f"TileLogWriter.append_leaf_hashes, no entry bundles) in {big_time:.1f} s")
        proofs = bench_proofs(work / "big", big, args.proofs)

        verified = open_checkpoint((work / "log/checkpoint").read_bytes(), [LOG_KEY.verifier]).checkpoint
        replay_time, report = timed(replay, DirectoryTileReader(work / "log"), verified)
        floor_replay = replay_floor(work / "log", entries, verified.size)

        table = Table(title=f"Public log tiles ({args.entries:,} entries; proofs over {args.leaves:,} leaves)")
        for column in ("measure", "time (median)", "p99 / max", "target", "floor (same run)", "ratio", "result"):
            table.add_column(column, justify="left" if column in {"measure", "floor (same run)", "result"} else "right")
        table.add_row(f"append + publish {args.entries:,} records", f"{write_time:.2f} s", "", "≤ 60 s",
                      f"{floor_write:.2f} s: SHA-256 of every entry ({floor_sha:.2f} s) + writing the same "
                      f"files ({floor_files:.2f} s)", f"{write_time / floor_write:.1f}×",
                      verdict(write_time, 60))
        for kind in ("inclusion", "consistency"):
            times, floors = proofs[kind]
            median, p99 = statistics.median(times), sorted(times)[int(0.99 * (len(times) - 1))]
            floor = statistics.median(floors)
            table.add_row(f"{kind} proof from tiles + verify ({len(times)}×)", ms(median),
                          f"{ms(p99)} / {ms(max(times))}", "≤ 10 ms",
                          f"{ms(floor)}: read the same tiles, same hashes", f"{median / floor:.1f}×",
                          verdict(median, 0.010))
        table.add_row(f"replay {report.entries:,} entries, {report.tiles:,} hash tiles", f"{replay_time:.2f} s", "",
                      "≤ 30 s", f"{floor_replay:.2f} s: read every file, SHA-256 of every entry",
                      f"{replay_time / floor_replay:.1f}×", verdict(replay_time, 30))
        console.print(table)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
