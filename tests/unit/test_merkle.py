"""RFC 6962 / 9162 Merkle tree: transparency-dev test vectors, reference comparisons, properties."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.errors import InvalidInput
from huzhu.transparency.merkle import (
    EMPTY_ROOT,
    ProofError,
    StreamingRoot,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "rfc6962"
INCLUSION_FILES = sorted((DATA / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((DATA / "consistency").rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


def _id(path: Path) -> str:
    return str(path.relative_to(DATA))


def test_vectors_are_present() -> None:
    assert len(INCLUSION_FILES) > 50
    assert len(CONSISTENCY_FILES) > 50
    assert (DATA / "LICENSE").is_file()


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_id)
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v["proof"]), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_id)
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["size1"], v["size2"], _proof(v["proof"]), _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# --- hashing and roots -------------------------------------------------------------------------


def test_hash_primitives() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


# The RFC 6962 reference tree of 8 leaves (as used by Certificate Transparency implementations).
RFC_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_reference_roots() -> None:
    hashes = [leaf_hash(d) for d in RFC_LEAVES]
    for n in range(1, 9):
        assert root_from_leaf_hashes(hashes[:n]).hex() == RFC_ROOTS[n - 1]


def _reference_root(hashes: list[bytes]) -> bytes:
    """Direct recursive transcription of RFC 6962 §2.1 MTH, for comparison on small trees."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_reference_root(hashes[:k]), _reference_root(hashes[k:]))


def test_streaming_matches_recursive_definition() -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
    acc = StreamingRoot()
    for n in range(71):
        assert acc.size == n
        assert acc.root() == _reference_root(hashes[:n])
        if n < 70:
            acc.add(hashes[n])


def test_large_tree_is_iterative() -> None:
    # 2**17 + 3 leaves: exercises deep stacks without recursion; proofs verify against the root.
    n = (1 << 17) + 3
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    root = root_from_leaf_hashes(hashes)
    for index in (0, n // 2, n - 1):
        proof = inclusion_proof(hashes, index)
        assert len(proof) == 18 or index == n - 1
        verify_inclusion(hashes[index], index, n, proof, root)
    old = 100_000
    verify_consistency(old, n, consistency_proof(hashes, old), root_from_leaf_hashes(hashes[:old]), root)


def test_bad_leaf_hash_rejected() -> None:
    with pytest.raises(InvalidInput):
        root_from_leaf_hashes([b"short"])


def test_proof_generation_rejects_bad_arguments() -> None:
    hashes = [leaf_hash(b"x")] * 3
    for bad in (-1, 3, 10):
        with pytest.raises(InvalidInput):
            inclusion_proof(hashes, bad)
    for bad in (0, 4, -1):
        with pytest.raises(InvalidInput):
            consistency_proof(hashes, bad)
    assert consistency_proof(hashes, 3) == []


# --- properties -------------------------------------------------------------------------------


def _flip(proof: list[bytes], which: int, bit: int) -> list[bytes]:
    flipped = list(proof)
    item = bytearray(flipped[which])
    item[bit // 8] ^= 1 << (bit % 8)
    flipped[which] = bytes(item)
    return flipped


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    n = draw(st.integers(min_value=1, max_value=300))
    seed = draw(st.binary(min_size=0, max_size=8))
    hashes = [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(n)]
    index = draw(st.integers(min_value=0, max_value=n - 1))
    bit = draw(st.integers(min_value=0, max_value=255))
    return hashes, index, bit


@settings(max_examples=150, deadline=None)
@given(tree_and_index(), st.data())
def test_inclusion_property(case: tuple[list[bytes], int, int], data: st.DataObject) -> None:
    hashes, index, bit = case
    n = len(hashes)
    root = root_from_leaf_hashes(hashes)
    proof = inclusion_proof(hashes, index)
    verify_inclusion(hashes[index], index, n, proof, root)
    if proof:
        which = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, n, _flip(proof, which, bit), root)
    with pytest.raises(ProofError):
        verify_inclusion(_flip([hashes[index]], 0, bit)[0], index, n, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], index, n, proof, _flip([root], 0, bit)[0])
    if n > 1:
        other = (index + 1) % n
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], other, n, proof, root)


@settings(max_examples=150, deadline=None)
@given(tree_and_index(), st.data())
def test_consistency_property(case: tuple[list[bytes], int, int], data: st.DataObject) -> None:
    hashes, _, bit = case
    n = len(hashes)
    old = data.draw(st.integers(min_value=1, max_value=n))
    root1 = root_from_leaf_hashes(hashes[:old])
    root2 = root_from_leaf_hashes(hashes)
    proof = consistency_proof(hashes, old)
    verify_consistency(old, n, proof, root1, root2)
    if old == n:
        assert proof == []
        return
    which = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    with pytest.raises(ProofError):
        verify_consistency(old, n, _flip(proof, which, bit), root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(old, n, proof, _flip([root1], 0, bit)[0], root2)
    with pytest.raises(ProofError):
        verify_consistency(old, n, proof, root1, _flip([root2], 0, bit)[0])
    with pytest.raises(ProofError):
        verify_consistency(old, n, proof[:-1], root1, root2)
