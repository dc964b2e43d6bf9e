"""huzhu_verify.merkle: RFC 9162 verification against the transparency-dev vectors, proof generation
against the server's independent implementation (huzhu.transparency.merkle), and properties."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.transparency import merkle as server_merkle
from huzhu_verify.errors import ProofError
from huzhu_verify.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    consistency_ranges,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_root,
    perfect_subtrees,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "rfc6962"
INCLUSION = sorted((DATA / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((DATA / "consistency").rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def test_vectors_present() -> None:
    assert len(INCLUSION) > 50 and len(CONSISTENCY) > 50


@pytest.mark.parametrize("path", INCLUSION, ids=lambda p: str(p.relative_to(DATA)))
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], [_b64(p) for p in v["proof"] or []], _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=lambda p: str(p.relative_to(DATA)))
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["size1"], v["size2"], [_b64(p) for p in v["proof"] or []], _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_hashing_is_rfc6962() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root_from_leaf_hashes([])
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    four = _leaves(4)
    assert perfect_root(b"".join(four)) == node_hash(node_hash(four[0], four[1]), node_hash(four[2], four[3]))
    with pytest.raises(ValueError):
        perfect_root(b"".join(four[:3]))


def test_perfect_subtrees_decompose_tree_and_proof_ranges() -> None:
    assert perfect_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert perfect_subtrees(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError):
        perfect_subtrees(1, 5)  # not a Merkle subtree range
    assert consistency_ranges(3, 7) == [(2, 3), (3, 4), (0, 2), (4, 7)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 100])
def test_proofs_equal_the_server_implementation_for_every_index_and_size(n: int) -> None:
    leaves = _leaves(n)
    root = root_from_leaf_hashes(leaves)
    assert root == server_merkle.root_from_leaf_hashes(leaves)
    for i in range(n):
        proof = inclusion_proof(leaves, i)
        assert proof == server_merkle.inclusion_proof(leaves, i)
        verify_inclusion(leaves[i], i, n, proof, root)
    for m in range(1, n + 1):
        proof = consistency_proof(leaves, m)
        assert proof == server_merkle.consistency_proof(leaves, m)
        verify_consistency(m, n, proof, root_from_leaf_hashes(leaves[:m]), root)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 600), st.data())
def test_a_changed_proof_element_or_leaf_never_verifies(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    root = root_from_leaf_hashes(leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(leaves, i)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"other"), i, n, proof, root)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[j] = hashlib.sha256(bad[j]).digest()
        with pytest.raises(ProofError):
            verify_inclusion(leaves[i], i, n, bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[i], i, n, proof[:-1], root)
    m = data.draw(st.integers(1, n))
    cproof = consistency_proof(leaves, m)
    old_root = root_from_leaf_hashes(leaves[:m])
    verify_consistency(m, n, cproof, old_root, root)
    if m < n:
        changed = list(leaves)
        changed[data.draw(st.integers(0, m - 1))] = leaf_hash(b"rewritten")
        with pytest.raises(ProofError):  # an edited prefix is not an extension
            verify_consistency(m, n, consistency_proof(changed, m), old_root, root_from_leaf_hashes(changed))


def test_inputs_out_of_range_are_proof_errors() -> None:
    leaves = _leaves(4)
    root = root_from_leaf_hashes(leaves)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[0], 4, 4, [], root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[0], -1, 4, [], root)
    with pytest.raises(ProofError):
        verify_consistency(4, 3, [], root, root)
    with pytest.raises(ProofError):
        verify_consistency(True, 4, [], root, root)  # type: ignore[arg-type]
