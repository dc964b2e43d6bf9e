"""RFC 9162 Merkle trees for a verifier: hashing, roots, proof shapes, proof verification.

Hashing (RFC 9162 §2.1.1, identical to RFC 6962 §2.1), SHA-256::

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")

MTH(D[n]) splits at the largest power of two *k* < n. Verification follows RFC 9162 §2.1.3.2
(inclusion) and §2.1.4.2 (consistency) and raises :class:`~huzhu_verify.errors.ProofError`.
Conventions beyond the RFC text, matching the ``transparency-dev/merkle`` test vectors: a
consistency proof between equal sizes is empty and the roots must be equal; a consistency proof
from size 0 is always rejected (RFC 9162 defines them only for 0 < m; callers such as the witness
handle "anything extends the empty tree" themselves).

Proof *generation* is written once, over a function that returns MTH(D[lo:hi]) for the ranges a
proof needs (:func:`prove_inclusion`, :func:`prove_consistency`): :mod:`huzhu_verify.tiles` feeds
it hashes read from tiles, :func:`inclusion_proof` and :func:`consistency_proof` a list of leaves.
Every range a proof needs is a concatenation of aligned perfect subtrees (:func:`perfect_subtrees`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from itertools import islice

from huzhu_verify.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "RootAccumulator",
    "consistency_proof",
    "consistency_ranges",
    "fold_subtree_roots",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "perfect_root",
    "perfect_subtrees",
    "prove_consistency",
    "prove_inclusion",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_sha256 = hashlib.sha256
EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string."""

RangeHash = Callable[[int, int], bytes]
"""MTH(D[lo:hi]) for a range that a proof needs."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry)."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def perfect_root(hashes: bytes) -> bytes:
    """MTH of a perfect subtree given its 2^k hashes concatenated (32 bytes each), k >= 0."""
    count = len(hashes) // HASH_SIZE
    if count == 0 or count & (count - 1) or len(hashes) % HASH_SIZE:
        raise ValueError(f"perfect_root needs a power-of-two number of hashes, got {len(hashes)} bytes")
    level = bytes(hashes)
    while len(level) > HASH_SIZE:
        # A list, not a generator: join builds one anyway, and a comprehension skips a resume per node.
        level = b"".join([
            _sha256(b"\x01" + level[i: i + 2 * HASH_SIZE]).digest() for i in range(0, len(level), 2 * HASH_SIZE)
        ])
    return level


def fold_subtree_roots(roots: Sequence[bytes]) -> bytes:
    """Root of a tree given the roots of its perfect subtrees, left to right (largest first)."""
    if not roots:
        return EMPTY_ROOT
    result = roots[-1]
    for left in reversed(roots[:-1]):
        result = _sha256(b"\x01" + left + result).digest()
    return result


class RootAccumulator:
    """Streaming MTH: add leaf hashes one by one, O(log n) memory (one subtree root per set bit)."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def add(self, leaf: bytes) -> None:
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash #{self._size} is {len(leaf)} bytes, not {HASH_SIZE}")
        node, count, stack = bytes(leaf), self._size, self._stack
        while count & 1:
            node = _sha256(b"\x01" + stack.pop() + node).digest()
            count >>= 1
        stack.append(node)
        self._size += 1

    def root(self) -> bytes:
        return fold_subtree_roots(self._stack)


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes (any iterable, streamed)."""
    acc = RootAccumulator()
    for h in hashes:
        acc.add(h)
    return acc.root()


def perfect_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """Split D[lo:hi] into aligned perfect subtrees, left to right, as (height, index) pairs.

    Subtree (h, i) covers leaves [i * 2^h, (i + 1) * 2^h). MTH(D[lo:hi]) is the fold of their
    roots exactly when each piece is the largest power of two that fits, which holds for [0, n) and
    for every range RFC 9162 proofs use; other ranges raise ``ValueError``.
    """
    pieces: list[tuple[int, int]] = []
    while lo < hi:
        height = (hi - lo).bit_length() - 1
        if lo & ((1 << height) - 1):
            raise ValueError(f"the range [{lo}, {hi}) is not a Merkle subtree range")
        pieces.append((height, lo >> height))
        lo += 1 << height
    return pieces


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf to root."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1)."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size} (need 0 < old <= new)")
    ranges: list[tuple[int, int]] = []
    lo, hi, complete = 0, new_size, True
    while old_size != hi:
        k = _split(hi - lo)
        if old_size <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            complete = False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def prove_inclusion(index: int, size: int, range_hash: RangeHash) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves, from a hash source."""
    return [range_hash(lo, hi) for lo, hi in inclusion_ranges(index, size)]


def prove_consistency(old_size: int, new_size: int, range_hash: RangeHash) -> list[bytes]:
    """Consistency proof from ``old_size`` to ``new_size`` (empty when equal), from a hash source."""
    return [range_hash(lo, hi) for lo, hi in consistency_ranges(old_size, new_size)]


def _list_range_hash(hashes: Sequence[bytes]) -> RangeHash:
    return lambda lo, hi: root_from_leaf_hashes(islice(hashes, lo, hi))


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof from the full list of leaf hashes (reference path; O(n) hashing)."""
    return prove_inclusion(index, len(hashes), _list_range_hash(hashes))


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from the first ``old_size`` leaves to all of ``hashes``."""
    return prove_consistency(old_size, len(hashes), _list_range_hash(hashes))


# --- verification --------------------------------------------------------------------------------


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _check_hash(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be a {HASH_SIZE}-byte SHA-256 hash")
    return bytes(value)


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2; raises :class:`ProofError` unless the proof verifies.
    """
    index, size = _check_int(index, "leaf index"), _check_int(size, "tree size")
    if index >= size:
        raise ProofError(f"leaf index {index} is not inside a tree of size {size}")
    node = _check_hash(leaf, "leaf hash")
    root = _check_hash(root, "root hash")
    path = [_check_hash(p, f"inclusion proof element {i}") for i, p in enumerate(proof)]
    fn, sn = index, size - 1
    for p in path:
        if sn == 0:
            raise ProofError(f"inclusion proof has {len(path)} hashes, more than the path to the root")
        if fn & 1 or fn == sn:
            node = _sha256(b"\x01" + p + node).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            node = _sha256(b"\x01" + node + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof has {len(path)} hashes, fewer than the path to the root")
    if not _same(node, root):
        raise ProofError(
            f"inclusion proof of leaf {index} does not lead to the root of the tree of size {size}"
        )


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    RFC 9162 §2.1.4.2; raises :class:`ProofError` unless the proof verifies.
    """
    old_size, new_size = _check_int(old_size, "old tree size"), _check_int(new_size, "new tree size")
    if new_size < old_size:
        raise ProofError(f"the new tree (size {new_size}) is smaller than the old one (size {old_size})")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing (RFC 9162 needs 0 < m)")
    if old_size == new_size:  # nothing to prove: the trees must be the same (roots compared as given)
        if len(proof):
            raise ProofError("a consistency proof between trees of equal size must be empty")
        if not _same(bytes(old_root), bytes(new_root)):
            raise ProofError(f"two trees of size {old_size} have different roots")
        return
    old_root = _check_hash(old_root, "old root hash")
    new_root = _check_hash(new_root, "new root hash")
    path = [_check_hash(p, f"consistency proof element {i}") for i, p in enumerate(proof)]
    if not path:
        raise ProofError(f"the consistency proof from size {old_size} to {new_size} is empty")
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"the consistency proof from size {old_size} to {new_size} is too long")
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"the consistency proof from size {old_size} to {new_size} is too short")
    if not _same(fr, old_root):
        raise ProofError(f"the consistency proof does not reproduce the old root (size {old_size})")
    if not _same(sr, new_root):
        raise ProofError(f"the consistency proof does not reproduce the new root (size {new_size})")
