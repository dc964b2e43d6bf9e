"""The leaves of a big Merkle-sum tree hashed in aligned blocks, on every core.

A tree of millions of leaves costs three or four SHA-256 per leaf (pseudonym, salt, leaf, and about
one node), all in Python: one core does about a million leaves in ten seconds. Here the leaves are
cut into blocks of :data:`BLOCK_LEAVES` (a power of two), in leaf order. Each full block is a
perfect subtree that starts at a multiple of its size, so its nodes are nodes of the whole tree,
whatever comes after: a worker hashes the block's leaves and every level of its subtree and writes
them, with the block's keys (and a run's lines, to a file of the block's own), into their places in
the tree's files. Only the block's top comes back; the parent joins the tops in order with the
usual carry (:meth:`~huzhu_verify.sumtree.SumTreeBuilder.extend_stored`) and writes the levels
above the blocks. The last, partial block comes back whole and goes through ``extend_batch``. The
bytes are the same as the one-process build, in any process count.

The workers are plain child processes (``python -m huzhu_verify.leafblocks``) that read tasks on
stdin and answer on stdout, one at a time, so the parent's ``__main__`` (a web server, the CLI, a
test runner) is never re-imported and no process is forked from a threaded one. With one core, or
for a small tree, the same functions run in the calling process.

Standard library only, like the rest of ``huzhu_verify``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from huzhu_verify.sumtree import (
    HASH_SIZE,
    AmountOutOfRange,
    MalformedInput,
    StoredBlock,
    SumMismatch,
    VerificationError,
    format_yuan,
    level_offsets,
)

BLOCK_LEAVES = 1 << 16
"""Leaves per block: 65,536 (2.6 MB of leaf records), a few dozen milliseconds of work."""

MIN_PARALLEL_LEAVES = 1 << 18
"""Below this many leaves the workers' start-up costs more than they save: hashed in-process."""

MAX_WORKERS = 8
_RECORD = HASH_SIZE + 8
_NODE = b"\x01"
_ERRORS: dict[str, type[Exception]] = {cls.__name__: cls for cls in (
    AmountOutOfRange, MalformedInput, SumMismatch, VerificationError, ValueError, TypeError)}


# ---------------------------------------------------------------- the work of one block


BlockFiles = tuple[str, str, int, int]
"""Where a worker writes a perfect block itself: the level file, the keys file, the tree's leaf
count (which places the levels) and the block's first leaf."""


def _split(joined: bytes, size: int = HASH_SIZE) -> list[bytes]:
    return [joined[i:i + size] for i in range(0, len(joined), size)]


def _levels(records: list[bytes], sums: list[int], perfect: bool) -> list[bytes]:
    """Level 0 (the leaf records ``hash ‖ u64(amount)``) and, for a perfect block, every level above
    it up to its single top record. A parent's hash input is ``0x01 ‖ left record ‖ right record``."""
    levels = [b"".join(records)]
    if not perfect:
        return levels
    sha256 = hashlib.sha256
    while len(records) > 1:
        sums = [a + b for a, b in zip(sums[0::2], sums[1::2], strict=True)]
        records = [sha256(_NODE + a + b).digest() + s.to_bytes(8, "big")
                   for a, b, s in zip(records[0::2], records[1::2], sums, strict=True)]
        levels.append(b"".join(records))
    return levels


def write_at(path: str | os.PathLike[str], data: bytes, offset: int) -> None:
    """Write ``data`` into the existing file ``path`` at ``offset`` (its place; other blocks' bytes
    around it are written by other processes)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
    finally:
        os.close(fd)


def _store(files: BlockFiles, levels: list[bytes], keys: bytes) -> tuple[str, int, bytes]:
    """Write a perfect block's levels and keys into the tree's files, in their places (the block's
    first leaf is a multiple of its size, so level ``j`` starts at node ``first_leaf >> j``)."""
    levels_path, keys_path, count, first_leaf = files
    if first_leaf % (1 << (len(levels) - 1)):
        raise MalformedInput(f"a block of {1 << (len(levels) - 1)} leaves cannot start at leaf {first_leaf}")
    offsets = level_offsets(count)
    for j, data in enumerate(levels):
        write_at(levels_path, data, offsets[j] + (first_leaf >> j) * _RECORD)
    write_at(keys_path, keys, first_leaf * HASH_SIZE)
    return ("stored", len(levels) - 1, levels[-1])


def share_block(domain: bytes, salt_prefix: bytes, cap: int, pseudonyms_: bytes, secrets: bytes,
                capacities: bytes, shares: bytes, files: BlockFiles | None,
                lines_path: str | None) -> tuple[bytes | None, bytes | None, Any]:
    """One block of a case's sharers (in pseudonym order): their run-file lines, the pseudonyms of
    those who pay (the keys file) and the levels of their leaves. A sharer paying nothing has a
    line and no leaf. Capacities and shares are ``array('q')`` bytes, each ≤ cap + 1 fen.

    With ``files`` (a perfect block) the levels and keys are written into the tree's files and the
    lines into ``lines_path``, and only the block's top comes back: ``(None, None, ("stored",
    height, top))``. Without, ``(lines, keys, levels)`` come back."""
    sha256 = hashlib.sha256
    ps, ss = _split(pseudonyms_), _split(secrets)
    caps, fens = _amounts(capacities, 0, cap), _amounts(shares, 0, cap + 1)
    yuan = [format_yuan(fen) for fen in range(cap + 2)]
    eights = [fen.to_bytes(8, "big") for fen in range(cap + 2)]
    leaves = [sha256(domain + sha256(salt_prefix + secret).digest() + p + eights[share]).digest() if share > 0
              else None for p, secret, share in zip(ps, ss, fens, strict=True)]
    lines = "".join([f"{p.hex()}\t{yuan[capacity]}\t{yuan[share]}\t{leaf.hex()}\n" if leaf is not None
                     else f"{p.hex()}\t{yuan[capacity]}\t0.00\t-\n"
                     for p, capacity, share, leaf in zip(ps, caps, fens, leaves, strict=True)]).encode("ascii")
    if None in leaves:
        paying = [i for i, leaf in enumerate(leaves) if leaf is not None]
        keys = b"".join([ps[i] for i in paying])
        records = [leaves[i] + eights[fens[i]] for i in paying]  # type: ignore[operator]
        amounts = [fens[i] for i in paying]
    else:
        keys = pseudonyms_
        records = [leaf + eights[share] for leaf, share in zip(leaves, fens, strict=True)]  # type: ignore[operator]
        amounts = fens
    levels = _levels(records, amounts, files is not None)
    if files is None:
        return lines, keys, levels
    if lines_path is None:
        raise ValueError("a stored block of sharers needs a file for its lines")
    with open(lines_path, "wb") as out:
        out.write(lines)
    return None, None, _store(files, levels, keys)


MEMBER_RECORD = 2 * HASH_SIZE + 8
"""A liabilities row as one byte string: pseudonym ‖ secret ‖ u64(amount). Sorting these sorts by
pseudonym (pseudonyms are unique), and a block of them is one join: no tuple per row."""


def member_records(prefix: bytes, secrets: bytes, amounts: bytes) -> bytes:
    """:data:`MEMBER_RECORD` of each 32-byte secret and its ``array('q')`` amount (a balance, never
    negative), the pseudonym being ``SHA-256(prefix ‖ secret)``; joined, in the given order."""
    sha256 = hashlib.sha256
    return b"".join([sha256(prefix + secret).digest() + secret + fen.to_bytes(8, "big")
                     for secret, fen in zip(_split(secrets), _amounts(amounts, 0, (1 << 63) - 1), strict=True)])


def balance_block(domain: bytes, pool_domain: bytes, salt_prefix: bytes, records: bytes, pools: Sequence[int],
                  files: BlockFiles | None) -> Any:
    """One block of a day's liabilities (every row a leaf, in pseudonym order, as joined
    :data:`MEMBER_RECORD`): the levels of its leaves, or with ``files`` (a perfect block) its levels
    and keys written into the tree's files and ``("stored", height, top)``. ``pools`` are the
    positions in the block of the case pools (their own leaf domain)."""
    sha256 = hashlib.sha256
    rows = _split(records, MEMBER_RECORD)
    leaves = [sha256(domain + sha256(salt_prefix + row[32:64]).digest() + row[:32] + row[64:]).digest() + row[64:]
              for row in rows]
    for i in pools:
        row = rows[i]
        leaves[i] = sha256(pool_domain + sha256(salt_prefix + row[32:64]).digest() + row[:32] + row[64:]).digest() \
            + row[64:]
    levels = _levels(leaves, [int.from_bytes(row[64:], "big") for row in rows], files is not None)
    return levels if files is None else _store(files, levels, b"".join([row[:32] for row in rows]))


def stored_block(result: Any) -> StoredBlock | list[bytes]:
    """A block's result as :func:`~huzhu_verify.sumtree.write_level_file_blocks` takes it."""
    if isinstance(result, tuple) and result and result[0] == "stored":
        return StoredBlock(height=result[1], top=result[2])
    return list(result)


OPERATIONS: dict[str, Callable[..., Any]] = {
    "member_records": member_records, "share_block": share_block, "balance_block": balance_block}


# ---------------------------------------------------------------- running blocks, here or in workers


def worker_count(leaves: int) -> int:
    """How many worker processes a tree of ``leaves`` gets: none when small or on one core."""
    if leaves < MIN_PARALLEL_LEAVES or not sys.executable:  # no interpreter to start (embedded Python)
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, MAX_WORKERS)


class BlockRunner:
    """Runs block tasks ``(operation, *arguments)`` and yields their results in order.

    ``workers=0`` runs them here. Otherwise each worker holds at most one task: the parent sends a
    task only to an idle worker (blocked reading its stdin) and reads each answer in full before it
    sends the next task there, so no pipe can fill up both ways. The next task is built while the
    workers hash, and each result is handed back while they hash the following ones."""

    def __init__(self, workers: int) -> None:
        self._processes: list[subprocess.Popen[bytes]] = []
        package_root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        try:
            for _ in range(workers):
                self._processes.append(subprocess.Popen(
                    [sys.executable, "-m", "huzhu_verify.leafblocks"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, env=env))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> BlockRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for process in self._processes:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def run(self, tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        if not self._processes:
            for operation, *arguments in tasks:
                yield OPERATIONS[operation](*arguments)
            return
        queue = iter(tasks)
        end = object()
        following = next(queue, end)
        busy: deque[subprocess.Popen[bytes]] = deque()
        for process in self._processes:
            if following is end:
                break
            _send(process, following)
            busy.append(process)
            following = next(queue, end)
        while busy:
            process = busy.popleft()
            result = _receive(process)
            if following is not end:
                _send(process, following)
                busy.append(process)
                following = next(queue, end)
            yield result


def _send(process: subprocess.Popen[bytes], task: Any) -> None:
    assert process.stdin is not None
    _write_frame(process.stdin, task)


def _receive(process: subprocess.Popen[bytes]) -> Any:
    assert process.stdout is not None
    answer = _read_frame(process.stdout)
    if answer is None:
        raise RuntimeError(f"a tree worker (pid {process.pid}) ended without answering")
    status, *rest = answer
    if status == "ok":
        return rest[0]
    name, message = rest
    raise _ERRORS.get(name, RuntimeError)(message)


def _write_frame(stream: Any, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "big"))
    stream.write(data)
    stream.flush()


def _read_frame(stream: Any) -> Any:
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    if len(data) != size:
        return None
    return pickle.loads(data)  # noqa: S301 - frames come only from our own parent or child process


def columns(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """The columns of ``rows`` (a transpose in C)."""
    return list(zip(*rows, strict=True))


def pack_amounts(amounts: Sequence[int]) -> bytes:
    """Amounts in fen as ``array('q')`` bytes (a worker range-checks them, :func:`_amounts`)."""
    try:
        return array("q", amounts).tobytes()
    except (OverflowError, TypeError) as exc:
        raise AmountOutOfRange(f"a leaf amount is not a whole number of fen within 64 bits: {exc}") from None


def pack_u64(amount: int) -> bytes:
    """One amount as the 8 bytes of a record (a case pool's balance, never negative)."""
    if not 0 <= amount < 1 << 63:
        raise AmountOutOfRange(f"leaf amount {amount} fen is outside 0..2^63-1")
    return amount.to_bytes(8, "big")


def _amounts(packed: bytes, minimum: int, maximum: int) -> list[int]:
    """The amounts of a block, each checked within ``minimum..maximum`` fen."""
    column = array("q", packed)
    if column and (min(column) < minimum or max(column) > maximum):
        bad = next(a for a in column if not minimum <= a <= maximum)
        raise AmountOutOfRange(f"leaf amount {bad} fen is outside {minimum}..{maximum}")
    return column.tolist()


def main() -> None:
    """A worker: answer block tasks from stdin until it closes."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while (task := _read_frame(source)) is not None:
        operation, *arguments = task
        try:
            answer: tuple[Any, ...] = ("ok", OPERATIONS[operation](*arguments))
        except Exception as exc:  # handed to the parent, which raises it there
            answer = ("error", type(exc).__name__, str(exc))
        _write_frame(sink, answer)


if __name__ == "__main__":
    main()
