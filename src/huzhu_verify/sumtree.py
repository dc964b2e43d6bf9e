"""Merkle-sum trees: a tree whose root commits to every leaf, to the total and to the leaf count.

This module owns the tree: node and root byte formats, the streaming builder, inclusion proofs (from
a sequence of leaves or from a stored *level file*), and their verification. It does not know what a
leaf means: ``pseudonyms`` derives member leaves, ``runcheck`` and ``liabilities`` use the trees.
Standard library only, so an auditor can run it anywhere.

Byte formats (SHA-256 everywhere; ``‖`` is concatenation; ``u64(x)`` is x as 8 bytes unsigned
big-endian, so a negative amount cannot even be encoded):

* **leaf** ``(leaf_hash, amount)``: a 32-byte hash made by the caller (it always starts with the
  byte 0x00, see ``pseudonyms.leaf_hash``) and the amount in fen, ``kind.min_leaf ≤ amount < 2^64``.
* **interior node**: ``hash = SHA-256(0x01 ‖ left.hash ‖ u64(left.sum) ‖ right.hash ‖ u64(right.sum))``
  and ``sum = left.sum + right.sum`` (refused if it reaches 2^64). The parent commits to *both*
  children's sums, not only to their total: with the total only (Maxwell's first design), an
  operator can show the two children's members different sibling sums that each add up, and hide
  liabilities (Ji and Chalkias, "Generalized Proof of Liabilities", 2021).
* **root digest**: ``SHA-256(0x02 ‖ "huzhu/sumtree/v1|" ‖ kind ‖ "|" ‖ tree_id ‖ "|" ‖ u64(count) ‖
  u64(sum) ‖ top)``, where ``top`` is the hash of the top node (the leaf hash itself for one leaf,
  ``SHA-256("")`` for the empty tree). The published root is ``(digest, sum, count)``.

Why the count sits in the root digest and not in every node: the tree has RFC 6962's shape (each
range splits at the largest power of two below its size), so the leaf count alone fixes the shape
of every path. A verifier walks a proof with the *committed* count, which tells it on which side and
over how many leaves each sibling sits; a proof made for any other shape fails. Knowing each
sibling's leaf count, the verifier also range-checks its sum: at least ``min_leaf × size`` (a share
tree has no zero or negative leaf, so a sibling of 4 leaves holds at least 4 fen) and, when a
per-leaf maximum is known (the cap of a case), at most ``max_leaf × size``.

The kind (``share``: every leaf ≥ 1 fen; ``liabilities``: every leaf ≥ 0) and the tree id (the case
number, or ``liabilities-YYYY-MM-DD``) are in the digest, so a root cannot be passed off as another
case's or another kind's.

**Level file** (proofs in a few reads instead of rehashing every leaf): level *k* of a tree of
``count`` leaves holds ``ceil(count / 2^k)`` records, node *j* being the root of leaves
``[j·2^k, min((j+1)·2^k, count))``; a last node without a partner is carried up unchanged, which is
exactly RFC 6962's shape. Layout: a 256-byte header ``"HZSUMLV1" ‖ u64(count) ‖ u64(sum) ‖ top(32) ‖
u16(len kind) ‖ kind ‖ u16(len tree_id) ‖ tree_id`` zero-padded, then level 0 (the leaves), level 1,
… up to the single top record; every record is ``hash(32) ‖ u64(sum)`` (40 bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "EMPTY_TOP",
    "HASH_SIZE",
    "KINDS",
    "U64_MAX",
    "AmountOutOfRange",
    "CheckResult",
    "InclusionProof",
    "LevelFile",
    "MalformedInput",
    "PathStep",
    "ProofShapeError",
    "RootMismatch",
    "SumMismatch",
    "SumRoot",
    "SumTreeBuilder",
    "TreeKind",
    "VerificationError",
    "VerifiedPath",
    "describe_path",
    "format_yuan",
    "inclusion_proof",
    "node_hash",
    "parse_yuan",
    "path_shape",
    "require_fields",
    "root_digest",
    "root_of",
    "verify_inclusion",
    "write_level_file",
    "write_level_file_batches",
    "write_level_file_blocks",
    "StoredBlock",
    "level_offsets",
]

HASH_SIZE = 32
U64_MAX = (1 << 64) - 1
EMPTY_TOP = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256
_NODE = b"\x01"
_ROOT = b"\x02"
_ROOT_TAG = b"huzhu/sumtree/v1|"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", re.ASCII)
_YUAN = re.compile(r"(0|[1-9][0-9]{0,17})\.([0-9]{2})", re.ASCII)


# ---------------------------------------------------------------- errors


class VerificationError(ValueError):
    """Something published does not check out. ``code`` is stable (the browser verifier uses the same)."""

    code = "verification_failed"


class MalformedInput(VerificationError):
    """A value is not in the documented format (bad hex, wrong length, unknown field)."""

    code = "malformed"


class AmountOutOfRange(VerificationError):
    """An amount is negative, zero where the tree kind forbids it, above a cap, or overflows 64 bits."""

    code = "amount_out_of_range"


class SumMismatch(VerificationError):
    """Sums do not add up (a node, a total, the root's published sum)."""

    code = "sum_mismatch"


class RootMismatch(VerificationError):
    """The recomputed root digest is not the published one."""

    code = "root_mismatch"


class ProofShapeError(VerificationError):
    """A proof has the wrong number of steps for its leaf index and the committed leaf count."""

    code = "proof_shape"


# ---------------------------------------------------------------- amounts and identifiers


def format_yuan(fen: int) -> str:
    """Fen as an exact yuan string, 204 → "2.04" (negative amounts are formatted, never accepted)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"an amount in fen must be an int, not {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def parse_yuan(text: object, *, what: str = "amount") -> int:
    """Parse a published amount: exactly ``digits.dd`` ("0.00", "2.04", "100000.00"), into fen.

    Stricter than the platform's input parser on purpose: a published file has one spelling for
    each amount, so "2.4", "+2.04", "02.04", " 2.04" and "-0.01" are all refused.
    """
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected an amount like \"2.04\", got {text!r}")
    match = _YUAN.fullmatch(text)
    if match is None:
        if text.startswith("-"):
            raise AmountOutOfRange(f"{what}: {text} is negative; published amounts are never negative")
        raise MalformedInput(f"{what}: {text!r} is not an amount written as yuan with two decimals, e.g. \"2.04\"")
    fen = int(match.group(1)) * 100 + int(match.group(2))
    if fen > U64_MAX:
        raise AmountOutOfRange(f"{what}: {text} does not fit in 64 bits")
    return fen


def check_tree_id(tree_id: str) -> bytes:
    """Tree ids (case numbers, ``liabilities-2026-11-25``): 1–64 of ``A-Z a-z 0-9 . _ : -``."""
    if not isinstance(tree_id, str) or _ID.fullmatch(tree_id) is None:
        raise MalformedInput(
            f"tree id {tree_id!r} must be 1-64 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)"
        )
    return tree_id.encode("ascii")


def hex_hash(text: object, *, what: str) -> bytes:
    """A 32-byte hash written as 64 lowercase hex digits."""
    if not isinstance(text, str) or len(text) != 2 * HASH_SIZE or text != text.lower():
        raise MalformedInput(f"{what}: expected 64 lowercase hex digits, got {text!r}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MalformedInput(f"{what}: {text!r} is not hexadecimal") from None


# ---------------------------------------------------------------- kinds, nodes, roots


@dataclass(frozen=True)
class TreeKind:
    """What a tree holds and the smallest amount one of its leaves may carry."""

    name: str
    min_leaf: int
    description: str


KINDS: dict[str, TreeKind] = {
    "share": TreeKind("share", 1, "the shares of one case: one leaf per paying member, each at least 0.01"),
    "liabilities": TreeKind("liabilities", 0, "every member balance and undisbursed case pool of one day"),
}


def kind_of(name: str) -> TreeKind:
    try:
        return KINDS[name]
    except KeyError:
        raise MalformedInput(f"unknown tree kind {name!r}; known kinds: {', '.join(sorted(KINDS))}") from None


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def node_hash(left_hash: bytes, left_sum: int, right_hash: bytes, right_sum: int) -> bytes:
    """Interior node hash ``SHA-256(0x01 ‖ lh ‖ u64(lsum) ‖ rh ‖ u64(rsum))``; sums must fit in 64 bits."""
    for value, side in ((left_sum, "left"), (right_sum, "right")):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U64_MAX:
            raise AmountOutOfRange(f"the {side} child's sum {value!r} is not between 0 and 2^64-1")
    if left_sum + right_sum > U64_MAX:
        raise AmountOutOfRange("the two children's sums overflow 64 bits")
    return _sha256(_NODE + left_hash + _u64(left_sum) + right_hash + _u64(right_sum)).digest()


def root_digest(kind: str, tree_id: str, count: int, total: int, top: bytes) -> bytes:
    """``SHA-256(0x02 ‖ "huzhu/sumtree/v1|" ‖ kind ‖ "|" ‖ tree_id ‖ "|" ‖ u64(count) ‖ u64(sum) ‖ top)``."""
    kind_of(kind)
    ident = check_tree_id(tree_id)
    if not 0 <= count <= U64_MAX or not 0 <= total <= U64_MAX:
        raise AmountOutOfRange("count and sum must be between 0 and 2^64-1")
    if len(top) != HASH_SIZE:
        raise MalformedInput(f"top hash must be {HASH_SIZE} bytes")
    return _sha256(_ROOT + _ROOT_TAG + kind.encode("ascii") + b"|" + ident + b"|"
                   + _u64(count) + _u64(total) + bytes(top)).digest()


@dataclass(frozen=True)
class SumRoot:
    """A published root: the digest commits to kind, tree id, count, sum and the top node."""

    kind: str
    tree_id: str
    count: int
    sum: int
    digest: bytes

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tree_id": self.tree_id, "count": self.count,
                "sum": format_yuan(self.sum), "hash": self.digest.hex()}

    @classmethod
    def from_json(cls, data: object) -> SumRoot:
        if not isinstance(data, dict):
            raise MalformedInput(f"a root is an object with kind, tree_id, count, sum and hash, not {data!r}")
        missing = {"kind", "tree_id", "count", "sum", "hash"} - set(data)
        if missing:
            raise MalformedInput(f"the root lacks {', '.join(sorted(missing))}")
        count = data["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= U64_MAX:
            raise MalformedInput(f"root count {count!r} is not a whole number of leaves")
        kind_of(data["kind"])
        check_tree_id(data["tree_id"])
        return cls(kind=data["kind"], tree_id=data["tree_id"], count=count,
                   sum=parse_yuan(data["sum"], what="root sum"), digest=hex_hash(data["hash"], what="root hash"))


def root_of(kind: str, tree_id: str, count: int, total: int, top: bytes) -> SumRoot:
    return SumRoot(kind=kind, tree_id=tree_id, count=count, sum=total,
                   digest=root_digest(kind, tree_id, count, total, top))


# ---------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A perfect block of ``2^height`` leaves already written into the level file by a worker
    (:mod:`huzhu_verify.leafblocks`): its top record ``hash ‖ u64(sum)``."""

    height: int
    top: bytes


class SumTreeBuilder:
    """Root of a Merkle-sum tree built from leaves added in order, in O(log n) memory.

    The stack holds the perfect subtrees made so far, one per set bit of the leaf count, largest
    first; adding a leaf merges equal-sized subtrees like a binary carry, and the root folds the
    stack from the right: RFC 6962's largest-power-of-two split. Every leaf amount is range-checked
    against the kind (``AmountOutOfRange``) and the running total against 2^64.

    Pass ``levels`` (a :class:`_LevelWriter`, see :func:`write_level_file`) to store every node.
    """

    __slots__ = ("_count", "_kind", "_levels", "_min", "_stack", "_total", "tree_id")

    def __init__(self, kind: str, tree_id: str, *, levels: _LevelWriter | None = None) -> None:
        self._kind = kind_of(kind)
        check_tree_id(tree_id)
        self.tree_id = tree_id
        self._min = self._kind.min_leaf
        self._count = 0
        self._total = 0
        self._stack: list[tuple[bytes, int]] = []
        self._levels = levels

    @property
    def kind(self) -> str:
        return self._kind.name

    @property
    def count(self) -> int:
        return self._count

    @property
    def total(self) -> int:
        return self._total

    def add(self, leaf_hash: bytes, amount: int) -> None:
        """Append one leaf; refuses a malformed hash, an amount below the kind's minimum or above 2^64-1."""
        if type(amount) is not int:
            raise AmountOutOfRange(f"leaf {self._count}: amount must be an int in fen, not {type(amount).__name__}")
        if amount < self._min or amount > U64_MAX:
            raise AmountOutOfRange(
                f"leaf {self._count}: amount {amount} fen is outside {self._min}..2^64-1 for a {self._kind.name} tree"
            )
        if len(leaf_hash) != HASH_SIZE:
            raise MalformedInput(f"leaf {self._count}: leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
        total = self._total + amount
        if total > U64_MAX:
            raise AmountOutOfRange(f"leaf {self._count}: the tree's sum overflows 64 bits")
        h = bytes(leaf_hash)
        if self._levels is not None:
            self._levels.put(0, h, amount)
        self._carry(0, h, amount, 1)

    def extend(self, leaves: Iterable[tuple[bytes, int]]) -> None:
        """Append many leaves: the same checks and bytes as :meth:`add`, with the loop's names kept
        local (the bulk path of a run or a day's liabilities: about a third faster than ``add``)."""
        stack, levels, minimum, sha256, node = self._stack, self._levels, self._min, _sha256, _NODE
        count, total = self._count, self._total
        try:
            for leaf_hash, amount in leaves:
                if type(amount) is not int or amount < minimum or amount > U64_MAX:
                    raise AmountOutOfRange(f"leaf {count}: amount {amount!r} fen is outside {minimum}..2^64-1 "
                                           f"for a {self._kind.name} tree")
                if len(leaf_hash) != HASH_SIZE:
                    raise MalformedInput(f"leaf {count}: leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
                if total + amount > U64_MAX:
                    raise AmountOutOfRange(f"leaf {count}: the tree's sum overflows 64 bits")
                total += amount
                h, s = bytes(leaf_hash), amount
                if levels is not None:
                    levels.put(0, h, s)
                n, level = count, 0
                while n & 1:
                    lh, ls = stack.pop()
                    h = sha256(node + lh + ls.to_bytes(8, "big") + h + s.to_bytes(8, "big")).digest()
                    s += ls
                    level += 1
                    if levels is not None:
                        levels.put(level, h, s)
                    n >>= 1
                stack.append((h, s))
                count += 1
        finally:
            self._count, self._total = count, total

    def extend_batch(self, hashes: Sequence[bytes], amounts: Sequence[int]) -> None:
        """Append a batch of leaves given as two columns: the same checks and bytes as :meth:`extend`,
        with the checks made once per batch and the level records appended in place (the bulk path
        of a run's share tree and a day's liabilities: no call per node). A batch that fails a check
        is handed to :meth:`extend`, which raises at the first bad leaf after adding the good ones."""
        if len(hashes) != len(amounts):
            raise MalformedInput(f"{len(hashes)} leaf hashes but {len(amounts)} amounts")
        if not amounts:
            return
        if (set(map(type, amounts)) != {int} or set(map(len, hashes)) != {HASH_SIZE} or min(amounts) < self._min
                or max(amounts) > U64_MAX or self._total + sum(amounts) > U64_MAX):
            self.extend(zip(hashes, amounts, strict=True))
            return
        levels = self._levels
        if levels is None:
            self.extend(zip(hashes, amounts, strict=True))
            return
        sha256, node, count = _sha256, _NODE, self._count
        # Level by level, one comprehension per level (no loop per node). A record is hash ‖ u64(sum),
        # exactly a level-file record, and a parent's hash input is 0x01 ‖ left record ‖ right record.
        # The stack holds one node per set bit of ``count`` (largest first): the node waiting for its
        # right sibling at that level. It goes first on its level; an odd one out at the end of a
        # level waits in turn. The same nodes and records, in the same order, as the carry of ``add``.
        waiting = {level: (h + s.to_bytes(8, "big"), s) for level, (h, s) in
                   zip([b for b in range(count.bit_length()) if count >> b & 1], reversed(self._stack),
                       strict=True)}
        buffers = levels.buffers
        records = [h + s.to_bytes(8, "big") for h, s in zip(hashes, amounts, strict=True)]
        sums = list(amounts)
        buffers[0] += b"".join(records)
        level = 0
        while records:
            if count >> level & 1:
                left, left_sum = waiting.pop(level)
                records.insert(0, left)
                sums.insert(0, left_sum)
            if len(records) & 1:
                waiting[level] = (records[-1], sums[-1])
            sums = [a + b for a, b in zip(sums[0::2], sums[1::2], strict=False)]  # an odd one out waits
            records = [sha256(node + a + b).digest() + s.to_bytes(8, "big")
                       for a, b, s in zip(records[0::2], records[1::2], sums, strict=False)]
            level += 1
            if records:
                buffers[level] += b"".join(records)
        self._stack = [(waiting[k][0][:HASH_SIZE], waiting[k][1]) for k in sorted(waiting, reverse=True)]
        self._count, self._total = count + len(amounts), self._total + sum(amounts)
        levels.flush_full()

    def extend_stored(self, block: StoredBlock) -> None:
        """Append a perfect block of ``2^height`` leaves whose levels up to ``height`` a worker has
        already written into the level file itself (:mod:`huzhu_verify.leafblocks`): only its top
        record comes here. The block must start at a multiple of its size, so its nodes are nodes
        of the tree; its top then joins the stack with the carry of :meth:`add`. The leaves' amounts
        were range-checked by the worker; the sum is checked here."""
        size = 1 << block.height
        if len(block.top) != _RECORD or block.height < 0:
            raise MalformedInput("a stored block is its height and its top record")
        if self._count % size:
            raise MalformedInput(f"a block of {size} leaves cannot start at leaf {self._count}")
        h, block_sum = block.top[:HASH_SIZE], int.from_bytes(block.top[HASH_SIZE:], "big")
        if self._total + block_sum > U64_MAX:
            raise AmountOutOfRange(f"leaf {self._count}: the tree's sum overflows 64 bits")
        writer = self._levels
        if writer is not None:
            for j in range(block.height + 1):
                writer.skip(j, size >> j)
        self._carry(block.height, h, block_sum, size)
        if writer is not None:
            writer.flush_full()

    def _carry(self, height: int, h: bytes, block_sum: int, size: int) -> None:
        """Join the top ``(h, block_sum)`` of a perfect block of ``size = 2^height`` leaves (one leaf:
        height 0) to the stack, merging equal-sized subtrees like a binary carry."""
        writer = self._levels
        n, level, s, stack = self._count >> height, height, block_sum, self._stack
        while n & 1:
            lh, ls = stack.pop()
            h = _sha256(_NODE + lh + ls.to_bytes(8, "big") + h + s.to_bytes(8, "big")).digest()
            s += ls
            level += 1
            if writer is not None:
                writer.put(level, h, s)
            n >>= 1
        stack.append((h, s))
        self._count += size
        self._total += block_sum

    def top(self) -> tuple[bytes, int]:
        """The top node (hash, sum) of the leaves so far; ``(SHA-256(""), 0)`` when empty."""
        stack = self._stack
        if not stack:
            return EMPTY_TOP, 0
        h, s = stack[-1]
        for lh, ls in reversed(stack[:-1]):
            h, s = node_hash(lh, ls, h, s), ls + s
        return h, s

    def root(self) -> SumRoot:
        h, s = self.top()
        return root_of(self._kind.name, self.tree_id, self._count, s, h)

    def partial_nodes(self) -> Iterator[tuple[int, bytes, int]]:
        """The right-edge nodes that are not perfect subtrees: ``(level, hash, sum)`` for every level
        ``k ≥ 1`` where ``count`` is not a multiple of ``2^k`` (used to finish a level file)."""
        count = self._count
        top_level = (count - 1).bit_length() if count else 0
        entries = iter(reversed(self._stack))  # smallest subtree first
        acc: tuple[bytes, int] | None = None
        for k in range(1, top_level + 1):
            if count >> (k - 1) & 1:
                eh, es = next(entries)
                acc = (eh, es) if acc is None else (node_hash(eh, es, acc[0], acc[1]), es + acc[1])
            if count % (1 << k) and acc is not None:
                yield k, acc[0], acc[1]


def _check_leaves(leaves: Sequence[tuple[bytes, int]], kind: TreeKind) -> None:
    for i, (h, amount) in enumerate(leaves):
        if len(h) != HASH_SIZE:
            raise MalformedInput(f"leaf {i}: leaf hash must be {HASH_SIZE} bytes")
        if type(amount) is not int or not kind.min_leaf <= amount <= U64_MAX:
            raise AmountOutOfRange(f"leaf {i}: amount {amount!r} is outside {kind.min_leaf}..2^64-1")


def _range_top(leaves: Sequence[tuple[bytes, int]], start: int, end: int) -> tuple[bytes, int]:
    builder = SumTreeBuilder("liabilities", "range")  # kinds only differ in min_leaf, checked already
    for i in range(start, end):
        builder.add(*leaves[i])
    return builder.top()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


# ---------------------------------------------------------------- proofs


@dataclass(frozen=True)
class InclusionProof:
    """Siblings from the leaf up to the top node, each ``(hash, sum)``; sides follow from index and count."""

    kind: str
    tree_id: str
    index: int
    count: int
    path: tuple[tuple[bytes, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tree_id": self.tree_id, "index": self.index, "count": self.count,
                "path": [{"hash": h.hex(), "sum": format_yuan(s)} for h, s in self.path]}

    @classmethod
    def from_json(cls, data: object) -> InclusionProof:
        if not isinstance(data, dict):
            raise MalformedInput("a proof is an object with kind, tree_id, index, count and path")
        missing = {"kind", "tree_id", "index", "count", "path"} - set(data)
        if missing:
            raise MalformedInput(f"the proof lacks {', '.join(sorted(missing))}")
        for field in ("index", "count"):
            value = data[field]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U64_MAX:
                raise MalformedInput(f"proof {field} {value!r} is not a whole number")
        if not isinstance(data["path"], list):
            raise MalformedInput("proof path must be a list of {hash, sum}")
        path = []
        for i, step in enumerate(data["path"]):
            if not isinstance(step, dict) or set(step) != {"hash", "sum"}:
                raise MalformedInput(f"proof step {i} must be an object with exactly hash and sum")
            path.append((hex_hash(step["hash"], what=f"proof step {i} hash"),
                         parse_yuan(step["sum"], what=f"proof step {i} sum")))
        kind_of(data["kind"])
        check_tree_id(data["tree_id"])
        return cls(kind=data["kind"], tree_id=data["tree_id"], index=data["index"], count=data["count"],
                   path=tuple(path))


def path_shape(index: int, count: int) -> list[tuple[bool, int]]:
    """For the leaf at ``index`` of a tree of ``count`` leaves: each sibling from the leaf up, as
    ``(sibling_is_left, sibling_leaf_count)``. Raises ``ProofShapeError`` if the index is outside."""
    if isinstance(index, bool) or isinstance(count, bool) or not 0 <= index < count:
        raise ProofShapeError(f"leaf index {index} is not inside a tree of {count} leaves")
    shape: list[tuple[bool, int]] = []
    start, end, m = 0, count, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            shape.append((False, end - start - k))
            end = start + k
        else:
            shape.append((True, k))
            start += k
            m -= k
    shape.reverse()
    return shape


def inclusion_proof(kind: str, tree_id: str, leaves: Sequence[tuple[bytes, int]], index: int) -> InclusionProof:
    """Proof for ``leaves[index]`` from the whole sequence of ``(leaf_hash, amount)``: O(n) hashing,
    O(log n) extra memory. For large trees use :class:`LevelFile` (a few reads per proof)."""
    tree_kind = kind_of(kind)
    _check_leaves(leaves, tree_kind)
    n = len(leaves)
    path_shape(index, n)  # range check
    collected: list[tuple[bytes, int]] = []
    start, end, m = 0, n, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            collected.append(_range_top(leaves, start + k, end))
            end = start + k
        else:
            collected.append(_range_top(leaves, start, start + k))
            start += k
            m -= k
    collected.reverse()
    return InclusionProof(kind=kind, tree_id=tree_id, index=index, count=n, path=tuple(collected))


@dataclass(frozen=True)
class PathStep:
    """One verified step: the sibling's side, leaf count and sum, and the node it made."""

    level: int
    sibling_is_left: bool
    sibling_leaves: int
    sibling_sum: int
    node_hash: bytes
    node_sum: int

    def describe(self) -> str:
        side = "left" if self.sibling_is_left else "right"
        return (f"level {self.level}: sibling on the {side}, {self.sibling_leaves} leaves summing "
                f"{format_yuan(self.sibling_sum)} → node {self.node_hash.hex()[:16]}… summing {format_yuan(self.node_sum)}")


@dataclass(frozen=True)
class VerifiedPath:
    leaf_hash: bytes
    amount: int
    root: SumRoot
    steps: tuple[PathStep, ...]


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))


def verify_inclusion(leaf_hash: bytes, amount: int, proof: InclusionProof, root: SumRoot, *,
                     max_leaf: int | None = None) -> VerifiedPath:
    """Walk ``proof`` from the leaf ``(leaf_hash, amount)`` to ``root``, recomputing hash *and* sum at
    every step; raise a :class:`VerificationError` naming the first thing that does not check out.

    Checks: the proof is for the root's kind, tree id and committed count; the leaf amount and every
    sibling sum are within what the tree kind allows for their number of leaves (``min_leaf``, and
    ``max_leaf`` when given, e.g. the case's cap); no sum overflows; the path's sum equals the root's
    published sum; the root digest over (kind, tree id, count, sum, top) equals the published one.
    """
    kind = kind_of(root.kind)
    if (proof.kind, proof.tree_id) != (root.kind, root.tree_id):
        raise RootMismatch(f"the proof is for the {proof.kind} tree {proof.tree_id}, the root for the "
                           f"{root.kind} tree {root.tree_id}")
    if proof.count != root.count:
        raise ProofShapeError(f"the proof is for a tree of {proof.count} leaves but the root commits to {root.count}")
    if len(leaf_hash) != HASH_SIZE:
        raise MalformedInput(f"leaf hash must be {HASH_SIZE} bytes")
    high = U64_MAX if max_leaf is None else max_leaf
    if type(amount) is not int or not kind.min_leaf <= amount <= high:
        raise AmountOutOfRange(f"the leaf's amount {amount!r} fen is outside {kind.min_leaf}..{high} "
                               f"allowed in a {kind.name} tree")
    shape = path_shape(proof.index, root.count)
    if len(proof.path) != len(shape):
        raise ProofShapeError(f"leaf {proof.index} of {root.count} needs {len(shape)} proof steps, "
                              f"the proof has {len(proof.path)}")
    h, s = bytes(leaf_hash), amount
    steps = []
    for level, ((is_left, size), (sh, ss)) in enumerate(zip(shape, proof.path, strict=True), start=1):
        low_bound = kind.min_leaf * size
        high_bound = U64_MAX if max_leaf is None else max_leaf * size
        if type(ss) is not int or not low_bound <= ss <= min(high_bound, U64_MAX):
            raise AmountOutOfRange(
                f"level {level}: the sibling holds {size} leaves, so its sum must be between "
                f"{format_yuan(low_bound)} and {format_yuan(min(high_bound, U64_MAX))}; the proof says {ss!r} fen")
        if len(sh) != HASH_SIZE:
            raise MalformedInput(f"level {level}: sibling hash must be {HASH_SIZE} bytes")
        if s + ss > U64_MAX:
            raise AmountOutOfRange(f"level {level}: the sum overflows 64 bits")
        h = node_hash(sh, ss, h, s) if is_left else node_hash(h, s, sh, ss)
        s += ss
        steps.append(PathStep(level, is_left, size, ss, h, s))
    if s != root.sum:
        raise SumMismatch(f"the path adds up to {format_yuan(s)} but the root publishes {format_yuan(root.sum)}")
    digest = root_digest(root.kind, root.tree_id, root.count, s, h)
    if not _equal(digest, root.digest):
        raise RootMismatch(f"the path leads to root {digest.hex()} but the published root is {root.digest.hex()}")
    return VerifiedPath(leaf_hash=bytes(leaf_hash), amount=amount, root=root, steps=tuple(steps))


# ---------------------------------------------------------------- documents (what the member's page checks)


def require_fields(obj: object, fields: Iterable[str], what: str) -> dict[str, Any]:
    """``obj`` must be a JSON object holding ``fields`` (message lists the missing ones, sorted)."""
    if not isinstance(obj, dict):
        raise MalformedInput(f"{what} must be an object")
    missing = sorted(set(fields) - set(obj))
    if missing:
        raise MalformedInput(f"{what} lacks {', '.join(missing)}")
    return obj


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a document check, shaped like the browser verifier's answer."""

    ok: bool
    reason: str | None
    message: str
    steps: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "message": self.message, "steps": list(self.steps)}


def describe_path(verified: VerifiedPath, index: int) -> tuple[str, ...]:
    root = verified.root
    lines = [f"leaf {index} of {root.count}: {format_yuan(verified.amount)} → {verified.leaf_hash.hex()[:16]}…"]
    lines += [step.describe() for step in verified.steps]
    lines.append(f"root {root.digest.hex()[:16]}… over {root.count} leaves summing {format_yuan(root.sum)}: matches")
    return tuple(lines)


# ---------------------------------------------------------------- level files

_MAGIC = b"HZSUMLV1"
_HEADER = 256
_RECORD = HASH_SIZE + 8
_FLUSH = 1 << 16


def _level_sizes(count: int) -> list[int]:
    """Number of records per level, level 0 (the leaves) first, up to the single top record."""
    sizes = []
    m = count
    while m > 0:
        sizes.append(m)
        if m == 1:
            break
        m = (m + 1) // 2
    return sizes


def level_offsets(count: int) -> list[int]:
    """Where each level of a tree of ``count`` leaves starts in its level file."""
    return _level_offsets(count)


def _level_offsets(count: int) -> list[int]:
    offsets, position = [], _HEADER
    for size in _level_sizes(count):
        offsets.append(position)
        position += size * _RECORD
    return offsets


class _LevelWriter:
    """Appends each level's records at its precomputed place in the file, buffered per level."""

    def __init__(self, fd: int, count: int) -> None:
        self._fd = fd
        self._offsets = _level_offsets(count)
        self._sizes = _level_sizes(count)
        self._written = [0] * len(self._sizes)
        self._buffers = [bytearray() for _ in self._sizes]

    def put(self, level: int, h: bytes, s: int) -> None:
        buf = self._buffers[level]
        buf += h
        buf += s.to_bytes(8, "big")
        if len(buf) >= _FLUSH:
            self._flush(level)

    @property
    def buffers(self) -> list[bytearray]:
        """The per-level buffers, for a bulk writer that appends records itself (then :meth:`flush_full`)."""
        return self._buffers

    def skip(self, level: int, records: int) -> None:
        """``records`` of ``level`` were written into the file by someone else, in their place."""
        self._flush(level)
        if self._written[level] + records > self._sizes[level]:
            raise SumMismatch(f"level {level} received more nodes than {self._sizes[level]}")
        self._written[level] += records

    def flush_full(self) -> None:
        for level, buf in enumerate(self._buffers):
            if len(buf) >= _FLUSH:
                self._flush(level)

    def _flush(self, level: int) -> None:
        buf = self._buffers[level]
        if not buf:
            return
        records = len(buf) // _RECORD
        if self._written[level] + records > self._sizes[level]:
            raise SumMismatch(f"level {level} received more nodes than {self._sizes[level]}")
        os.pwrite(self._fd, bytes(buf), self._offsets[level] + self._written[level] * _RECORD)
        self._written[level] += records
        buf.clear()

    def finish(self) -> None:
        for level in range(len(self._buffers)):
            self._flush(level)
        if self._written != self._sizes:
            raise SumMismatch(f"level file incomplete: wrote {self._written}, expected {self._sizes}")


def _header(count: int, total: int, top: bytes, kind: str, tree_id: str) -> bytes:
    k, t = kind.encode("ascii"), tree_id.encode("ascii")
    raw = (_MAGIC + _u64(count) + _u64(total) + top + len(k).to_bytes(2, "big") + k
           + len(t).to_bytes(2, "big") + t)
    return raw.ljust(_HEADER, b"\x00")


def write_level_file(path: str | os.PathLike[str], kind: str, tree_id: str, count: int,
                     leaves: Iterable[tuple[bytes, int]]) -> SumRoot:
    """Build the tree over ``count`` leaves streamed in order, storing every level in ``path``.

    Memory stays O(log n) (plus a 64 KiB buffer per level). Raises ``SumMismatch`` if the stream
    does not hold exactly ``count`` leaves; the file is then removed.
    """

    def fill(builder: SumTreeBuilder) -> None:
        stream = iter(leaves)
        builder.extend(itertools.islice(stream, count))
        if builder.count == count and next(stream, None) is not None:
            raise SumMismatch(f"the leaves stream holds more than the {count} leaves announced")

    return _write_levels(path, kind, tree_id, count, fill)


def write_level_file_batches(path: str | os.PathLike[str], kind: str, tree_id: str, count: int,
                             batches: Iterable[tuple[Sequence[bytes], Sequence[int]]]) -> SumRoot:
    """:func:`write_level_file` with the leaves streamed as batches ``(leaf hashes, amounts)`` in
    order (:meth:`SumTreeBuilder.extend_batch`): the same file and root, faster for millions of leaves."""

    def fill(builder: SumTreeBuilder) -> None:
        for hashes, amounts in batches:
            if builder.count + len(amounts) > count:
                raise SumMismatch(f"the leaves stream holds more than the {count} leaves announced")
            builder.extend_batch(hashes, amounts)

    return _write_levels(path, kind, tree_id, count, fill)


def write_level_file_blocks(path: str | os.PathLike[str], kind: str, tree_id: str, count: int,
                            blocks: Iterable[Sequence[bytes] | StoredBlock]) -> SumRoot:
    """:func:`write_level_file` with the leaves given as blocks (:mod:`huzhu_verify.leafblocks`): a
    :class:`StoredBlock` is a perfect subtree a worker wrote into ``path`` itself
    (:meth:`SumTreeBuilder.extend_stored`), any other block is one level of leaf records ``hash ‖
    u64(amount)`` added as a batch (the last, partial block). ``path`` is created (emptied) before
    the first block is asked for, so workers can write into it."""

    def fill(builder: SumTreeBuilder) -> None:
        for levels in blocks:
            if isinstance(levels, StoredBlock):
                if builder.count + (1 << levels.height) > count:
                    raise SumMismatch(f"the leaves stream holds more than the {count} leaves announced")
                builder.extend_stored(levels)
                continue
            leaves = len(levels[0]) // _RECORD
            if builder.count + leaves > count:
                raise SumMismatch(f"the leaves stream holds more than the {count} leaves announced")
            if len(levels) != 1:
                raise MalformedInput("a block held here is one level of leaf records")
            if leaves:
                records = levels[0]
                builder.extend_batch([records[i:i + HASH_SIZE] for i in range(0, len(records), _RECORD)],
                                     [int.from_bytes(records[i + HASH_SIZE:i + _RECORD], "big")
                                      for i in range(0, len(records), _RECORD)])

    return _write_levels(path, kind, tree_id, count, fill)


def _write_levels(path: str | os.PathLike[str], kind: str, tree_id: str, count: int,
                  fill: Callable[[SumTreeBuilder], None]) -> SumRoot:
    check_tree_id(tree_id)
    target = Path(path)
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        writer = _LevelWriter(fd, count)
        builder = SumTreeBuilder(kind, tree_id, levels=writer)
        fill(builder)
        if builder.count != count:
            raise SumMismatch(f"the leaves stream held {builder.count} leaves, {count} were announced")
        for level, h, s in builder.partial_nodes():
            writer.put(level, h, s)
        writer.finish()
        top, total = builder.top()
        os.pwrite(fd, _header(count, total, top, kind, tree_id), 0)
        return root_of(kind, tree_id, count, total, top)
    except BaseException:
        os.close(fd)
        fd = -1
        target.unlink(missing_ok=True)
        raise
    finally:
        if fd >= 0:
            os.close(fd)


class LevelFile:
    """A stored tree: its root, any leaf, and any leaf's proof in ``⌈log2 n⌉`` reads of 40 bytes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close() / the context manager
        header = self._file.read(_HEADER)
        if len(header) != _HEADER or header[:8] != _MAGIC:
            self._file.close()
            raise MalformedInput(f"{path} is not a huzhu sum-tree level file")
        self.count = int.from_bytes(header[8:16], "big")
        self.sum = int.from_bytes(header[16:24], "big")
        self.top = header[24:56]
        klen = int.from_bytes(header[56:58], "big")
        self.kind = header[58:58 + klen].decode("ascii")
        tlen = int.from_bytes(header[58 + klen:60 + klen], "big")
        self.tree_id = header[60 + klen:60 + klen + tlen].decode("ascii")
        self._offsets = _level_offsets(self.count)
        self._sizes = _level_sizes(self.count)
        self.root = root_of(self.kind, self.tree_id, self.count, self.sum, self.top)
        self._fd = self._file.fileno()

    def __enter__(self) -> LevelFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _record(self, level: int, index: int) -> tuple[bytes, int]:
        raw = os.pread(self._fd, _RECORD, self._offsets[level] + index * _RECORD)
        if len(raw) != _RECORD:
            raise MalformedInput(f"level file truncated at level {level}, node {index}")
        return raw[:HASH_SIZE], int.from_bytes(raw[HASH_SIZE:], "big")

    def leaf(self, index: int) -> tuple[bytes, int]:
        if not 0 <= index < self.count:
            raise ProofShapeError(f"leaf index {index} is not inside a tree of {self.count} leaves")
        return self._record(0, index)

    def proof(self, index: int) -> InclusionProof:
        if not 0 <= index < self.count:
            raise ProofShapeError(f"leaf index {index} is not inside a tree of {self.count} leaves")
        path = []
        for level, size in enumerate(self._sizes[:-1]):
            sibling = (index >> level) ^ 1
            if sibling < size:
                path.append(self._record(level, sibling))
        return InclusionProof(kind=self.kind, tree_id=self.tree_id, index=index, count=self.count, path=tuple(path))
