"""RFC 6962 / RFC 9162 Merkle tree: hashing, roots, inclusion and consistency proofs.

Hashing (RFC 6962 §2.1, RFC 9162 §2.1.1), SHA-256:

- leaf hash  = SHA-256(0x00 || data)
- node hash  = SHA-256(0x01 || left || right)
- empty tree = SHA-256("")

The tree over n leaves splits at the largest power of two smaller than n. Roots are computed by a
streaming stack (:class:`StreamingRoot`): O(n) hashing, O(log n) memory, no recursion, so a tree of
millions of leaves is fine. Proof generation works on index ranges of the leaf-hash sequence (no list
copies); each proof hashes every leaf at most once (O(n) time, O(log n) extra memory).

Verification follows the algorithms of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency)
and raises :class:`ProofError` on any failure. Conventions beyond the RFC text, matching the
``transparency-dev/merkle`` test vectors shipped in ``tests/data/rfc6962``:

- a consistency proof between equal sizes is the empty list and the two roots must be equal;
- a consistency proof *from the empty tree* (``size1 == 0``) is always rejected: RFC 9162 defines
  consistency proofs only for ``0 < size1``, and such a proof would commit to nothing.

This module is pure: no database, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from huzhu.errors import InvalidInput
from huzhu.transparency.errors import LogError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ProofError",
    "StreamingRoot",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""Root of the empty tree, SHA-256 of the empty string."""


class ProofError(ValueError):
    """An inclusion or consistency proof did not verify (wrong root, bad size, malformed proof)."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise InvalidInput(LogError.NOT_A_HASH, what=what, size=HASH_SIZE)


class StreamingRoot:
    """Merkle tree hash of leaf hashes added one at a time, in O(log n) memory.

    The stack holds the roots of the perfect subtrees that make up the tree so far, one per set bit of
    the leaf count, largest first. Adding a leaf merges equal-sized subtrees like a binary carry. The
    root folds the stack from the right, which is exactly RFC 6962's largest-power-of-two split.
    """

    __slots__ = ("_count", "_stack")

    def __init__(self) -> None:
        self._count = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves added so far."""
        return self._count

    def add(self, leaf_hash_: bytes) -> None:
        """Append one leaf *hash* (already ``leaf_hash(data)``, 32 bytes)."""
        if len(leaf_hash_) != HASH_SIZE:
            raise InvalidInput(LogError.LEAF_HASH_SIZE, number=self._count, size=HASH_SIZE, got=len(leaf_hash_))
        h = bytes(leaf_hash_)
        count = self._count
        stack = self._stack
        while count & 1:
            h = _sha256(_NODE_PREFIX + stack.pop() + h).digest()
            count >>= 1
        stack.append(h)
        self._count += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for h in leaf_hashes:
            self.add(h)

    def root(self) -> bytes:
        """Merkle tree hash of the leaves added so far (``EMPTY_ROOT`` when none)."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        r = stack[-1]
        for left in reversed(stack[:-1]):
            r = _sha256(_NODE_PREFIX + left + r).digest()
        return r


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """RFC 6962 MTH over a sequence (or any iterable) of leaf hashes."""
    acc = StreamingRoot()
    acc.extend(hashes)
    return acc.root()


def _range_root(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of ``hashes[start:end]`` without copying the slice."""
    acc = StreamingRoot()
    for i in range(start, end):
        acc.add(hashes[i])
    return acc.root()


def _largest_power_of_two_below(n: int) -> int:
    """Largest power of two k with k < n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path PATH(index, D[n]) of RFC 9162 §2.1.3.1 for the leaf at ``index``; leaf-to-root order."""
    n = len(hashes)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise InvalidInput(LogError.LEAF_INDEX, index=index, leaves=n)
    collected: list[bytes] = []  # root-to-leaf order while descending
    start, end, m = 0, n, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            collected.append(_range_root(hashes, start + k, end))
            end = start + k
        else:
            collected.append(_range_root(hashes, start, start + k))
            start += k
            m -= k
    collected.reverse()
    return collected


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 between the first ``old_size``
    leaves and all ``len(hashes)`` leaves. Equal sizes give the empty proof; ``old_size`` must be > 0.
    """
    n = len(hashes)
    if isinstance(old_size, bool) or not isinstance(old_size, int) or not 0 < old_size <= n:
        raise InvalidInput(LogError.OLD_SIZE, old=old_size, size=n)
    collected: list[bytes] = []
    start, end, m, complete = 0, n, old_size, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            collected.append(_range_root(hashes, start + k, end))
            end = start + k
        else:
            collected.append(_range_root(hashes, start, start + k))
            start += k
            m -= k
            complete = False
    proof = [] if complete else [_range_root(hashes, start, end)]
    proof.extend(reversed(collected))
    return proof


def _check_proof_hashes(proof: Sequence[bytes], what: str) -> None:
    for i, p in enumerate(proof):
        if not isinstance(p, bytes | bytearray) or len(p) != HASH_SIZE:
            raise ProofError(f"{what} element {i} is not a {HASH_SIZE}-byte hash")


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2); raise :class:`ProofError` unless it verifies."""
    if isinstance(index, bool) or isinstance(tree_size, bool):
        raise ProofError("index and tree size must be integers")
    if index < 0 or tree_size < 0:
        raise ProofError("index and tree size must not be negative")
    if index >= tree_size:
        raise ProofError(f"leaf index {index} is not inside a tree of size {tree_size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
    if len(root) != HASH_SIZE:
        raise ProofError(f"root must be {HASH_SIZE} bytes, got {len(root)}")
    proof = list(proof or [])
    _check_proof_hashes(proof, "inclusion proof")

    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if not _equal(r, root):
        raise ProofError("inclusion proof does not lead to the given root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2); raise :class:`ProofError` unless it verifies."""
    if isinstance(size1, bool) or isinstance(size2, bool):
        raise ProofError("tree sizes must be integers")
    if size1 < 0 or size2 < 0:
        raise ProofError("tree sizes must not be negative")
    if size2 < size1:
        raise ProofError(f"the new tree (size {size2}) is smaller than the old one (size {size1})")
    proof = list(proof or [])
    if size1 == 0:
        raise ProofError(
            "a consistency proof from the empty tree (size 0) proves nothing (RFC 9162: 0 < size1)"
        )
    if size1 == size2:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if not _equal(root1, root2):
            raise ProofError("the trees have the same size but different roots")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    if len(root1) != HASH_SIZE or len(root2) != HASH_SIZE:
        raise ProofError(f"roots must be {HASH_SIZE} bytes")
    _check_proof_hashes(proof, "consistency proof")

    if size1 & (size1 - 1) == 0:  # exact power of two: the old root is itself a node of the new tree
        proof.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than expected")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than expected")
    if not _equal(fr, root1):
        raise ProofError("consistency proof does not lead to the old root")
    if not _equal(sr, root2):
        raise ProofError("consistency proof does not lead to the new root")
