"""Big trees in aligned blocks (``huzhu_verify.leafblocks``): the blocks, hashed here or in worker
processes, give the very bytes of the one-process build; a block that is not a perfect, aligned
subtree is refused; a bad amount in a worker is raised in the parent; the workers end with the run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu_verify import leafblocks
from huzhu_verify.pseudonyms import LEAF_DOMAINS, TreeDerivation
from huzhu_verify.sumtree import (
    AmountOutOfRange,
    MalformedInput,
    StoredBlock,
    SumTreeBuilder,
    write_level_file,
    write_level_file_blocks,
)

DAY = "liabilities-2015-03-13"
BALANCE, POOL = b"\x00" + LEAF_DOMAINS["balance"], b"\x00" + LEAF_DOMAINS["pool"]
SALT = f"huzhu/salt/v1|{DAY}|".encode("ascii")


def _members(n: int, seed: int) -> list[tuple[bytes, bytes, int]]:
    """``(pseudonym, secret, amount)`` in pseudonym order, amounts from 0 fen up."""
    derive = TreeDerivation(DAY)
    rows = []
    for i in range(n):
        secret = hashlib.sha256(b"%d|%d" % (seed, i)).digest()
        rows.append((derive.pseudonym(secret), secret, (i * 7919 + seed) % 3001))
    return sorted(rows)


def _leaf(row: tuple[bytes, bytes, int], domain: bytes = BALANCE) -> bytes:
    p, secret, amount = row
    return hashlib.sha256(domain + hashlib.sha256(SALT + secret).digest() + p + amount.to_bytes(8, "big")).digest()


def _tasks(rows: list[tuple[bytes, bytes, int]], block: int, pools: set[int], levels: Path):  # noqa: ANN202
    """Balance blocks of ``block`` leaves: the full ones written by the worker into ``levels`` and its
    keys file, the last one handed back."""
    keys = levels.with_suffix(".keys")
    keys.write_bytes(b"")
    for start in range(0, len(rows), block):
        part = rows[start:start + block]
        files = (str(levels), str(keys), len(rows), start) if len(part) == block else None
        if files is None:
            leafblocks.write_at(keys, b"".join(p for p, _, _ in part), start * 32)
        yield ("balance_block", BALANCE, POOL, SALT, _records(part),
               [i - start for i in sorted(pools) if start <= i < start + block], files)


def _records(rows: list[tuple[bytes, bytes, int]]) -> bytes:
    return b"".join(p + secret + leafblocks.pack_u64(amount) for p, secret, amount in rows)


def _build(runner: leafblocks.BlockRunner, path: Path, rows: list[tuple[bytes, bytes, int]], block: int,
           pools: set[int] = frozenset()):  # noqa: ANN202, B006
    return write_level_file_blocks(path, "liabilities", DAY, len(rows),
                                   map(leafblocks.stored_block, runner.run(_tasks(rows, block, pools, path))))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 70), block_power=st.integers(0, 4), seed=st.integers(0, 5),
       pools=st.sets(st.integers(0, 69), max_size=3))
def test_blocks_give_the_bytes_of_the_one_process_build(n: int, block_power: int, seed: int, pools: set[int],
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("blocks")
    rows = _members(n, seed)
    pools = {i for i in pools if i < n}
    expected = write_level_file(folder / "one", "liabilities", DAY, n,
                                [(_leaf(row, POOL if i in pools else BALANCE), row[2]) for i, row in enumerate(rows)])
    with leafblocks.BlockRunner(0) as runner:
        got = _build(runner, folder / "blocks", rows, 1 << block_power, pools)
    assert got == expected
    assert (folder / "blocks").read_bytes() == (folder / "one").read_bytes()
    assert (folder / "blocks.keys").read_bytes() == b"".join(row[0] for row in rows)


def test_worker_processes_give_the_same_bytes_and_end_with_the_run(tmp_path: Path) -> None:
    rows = _members(300, 7)
    expected = write_level_file(tmp_path / "one", "liabilities", DAY, 300, [(_leaf(r), r[2]) for r in rows])
    with leafblocks.BlockRunner(2) as runner:
        processes = list(runner._processes)
        got = _build(runner, tmp_path / "workers", rows, 16)
        # The records (pseudonym, secret, balance) of many members, in order, from the workers too.
        secrets, amounts = [row[1] for row in rows], [row[2] for row in rows]
        joined = b"".join(runner.run(("member_records", TreeDerivation(DAY).pseudonym_prefix,
                                      b"".join(secrets[i:i + 50]), leafblocks.pack_amounts(amounts[i:i + 50]))
                                     for i in range(0, 300, 50)))
    assert got == expected and (tmp_path / "workers").read_bytes() == (tmp_path / "one").read_bytes()
    assert (tmp_path / "workers.keys").read_bytes() == b"".join(row[0] for row in rows)
    assert sorted(joined[i:i + leafblocks.MEMBER_RECORD] for i in range(0, len(joined), leafblocks.MEMBER_RECORD)) \
        == [p + secret + amount.to_bytes(8, "big") for p, secret, amount in rows]
    assert all(process.poll() is not None for process in processes)  # ended, not left behind


def test_a_bad_amount_in_a_worker_is_raised_in_the_parent_and_nothing_is_left(tmp_path: Path) -> None:
    rows = _members(40, 1)
    with leafblocks.BlockRunner(2) as runner, pytest.raises(AmountOutOfRange, match="-1 fen"):
        list(runner.run([("member_records", b"p|", b"".join(row[1] for row in rows),
                          leafblocks.pack_amounts([*[row[2] for row in rows[:20]], -1, *[row[2] for row in rows[21:]]]))]))
    with pytest.raises(AmountOutOfRange):
        leafblocks.pack_amounts([1, 1 << 64])
    with pytest.raises(AmountOutOfRange):
        leafblocks.pack_u64(-5)  # a case pool overdrawn is not a leaf
    # A share above the cap plus the one leftover fen is refused by the worker's range check, in the
    # middle of a tree's build: the parent raises it and removes the level file.
    four, levels = rows[:4], tmp_path / "bad.levels"
    task = ("share_block", b"\x00share", SALT, 300, b"".join(r[0] for r in four), b"".join(r[1] for r in four),
            leafblocks.pack_amounts([300] * 4), leafblocks.pack_amounts([100, 100, 302, 100]),
            (str(levels), str(tmp_path / "bad.keys"), 4, 0), str(tmp_path / "bad.lines"))
    (tmp_path / "bad.keys").write_bytes(b"")
    with leafblocks.BlockRunner(2) as runner, pytest.raises(AmountOutOfRange, match="302 fen"):
        write_level_file_blocks(levels, "share", "HZ000001", 4, map(leafblocks.stored_block, runner.run([task])))
    assert not levels.exists()


def test_a_block_that_is_not_a_perfect_aligned_subtree_is_refused(tmp_path: Path) -> None:
    rows = _members(8, 3)
    levels, keys = tmp_path / "t.levels", tmp_path / "t.keys"
    levels.write_bytes(b"")
    keys.write_bytes(b"")
    task = ["balance_block", BALANCE, POOL, SALT, _records(rows[:4]), []]
    with leafblocks.BlockRunner(0) as runner:
        with pytest.raises(MalformedInput, match="cannot start at leaf 2"):
            list(runner.run([(*task, (str(levels), str(keys), 8, 2))]))  # a block of 4 starts at 0 or 4
        stored = leafblocks.stored_block(next(runner.run([(*task, (str(levels), str(keys), 8, 4))])))
    assert isinstance(stored, StoredBlock) and stored.height == 2
    builder = SumTreeBuilder("liabilities", DAY)
    builder.extend_batch([_leaf(r) for r in rows[:2]], [r[2] for r in rows[:2]])  # leaves 0-1
    with pytest.raises(MalformedInput, match="cannot start at leaf 2"):
        builder.extend_stored(stored)
    with pytest.raises(MalformedInput, match="height and its top record"):
        builder.extend_stored(StoredBlock(height=2, top=stored.top[:39]))


def test_small_trees_and_single_cores_stay_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert leafblocks.worker_count(leafblocks.MIN_PARALLEL_LEAVES - 1) == 0
    monkeypatch.setattr(leafblocks.os, "sched_getaffinity", lambda pid: {0})
    assert leafblocks.worker_count(10_000_000) == 0
    monkeypatch.setattr(leafblocks.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert leafblocks.worker_count(10_000_000) == leafblocks.MAX_WORKERS
