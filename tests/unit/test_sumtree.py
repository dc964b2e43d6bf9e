"""Merkle-sum trees (``huzhu_verify.sumtree``): byte formats, shape, proofs, level files, refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu_verify.sumtree import (
    EMPTY_TOP,
    U64_MAX,
    AmountOutOfRange,
    InclusionProof,
    LevelFile,
    MalformedInput,
    ProofShapeError,
    RootMismatch,
    SumMismatch,
    SumRoot,
    SumTreeBuilder,
    VerificationError,
    format_yuan,
    inclusion_proof,
    node_hash,
    parse_yuan,
    path_shape,
    root_digest,
    verify_inclusion,
    write_level_file,
    write_level_file_batches,
)

CASE = "HZ000001"


def _u64(x: int) -> bytes:
    return x.to_bytes(8, "big")


def _ref_node(left: tuple[bytes, int], right: tuple[bytes, int]) -> tuple[bytes, int]:
    """The documented node format, written out with hashlib (independent of the module)."""
    (lh, ls), (rh, rs) = left, right
    return hashlib.sha256(b"\x01" + lh + _u64(ls) + rh + _u64(rs)).digest(), ls + rs


def _ref_top(leaves: list[tuple[bytes, int]]) -> tuple[bytes, int]:
    """RFC 6962's recursive definition: split at the largest power of two below n."""
    if not leaves:
        return hashlib.sha256(b"").digest(), 0
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _ref_node(_ref_top(leaves[:k]), _ref_top(leaves[k:]))


def _ref_digest(kind: str, tree_id: str, count: int, total: int, top: bytes) -> bytes:
    return hashlib.sha256(b"\x02" + b"huzhu/sumtree/v1|" + kind.encode() + b"|" + tree_id.encode() + b"|"
                          + _u64(count) + _u64(total) + top).digest()


def _leaves(n: int, amount: int = 0) -> list[tuple[bytes, int]]:
    return [(hashlib.sha256(i.to_bytes(4, "big")).digest(), amount or (i % 300) + 1) for i in range(n)]


def _tree(leaves: list[tuple[bytes, int]], kind: str = "share", tree_id: str = CASE) -> SumRoot:
    builder = SumTreeBuilder(kind, tree_id)
    builder.extend(leaves)
    return builder.root()


# ---------------------------------------------------------------- formats and shape


def test_node_and_root_digest_follow_the_documented_bytes() -> None:
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    assert node_hash(a, 5, b, 7) == _ref_node((a, 5), (b, 7))[0]
    assert root_digest("share", CASE, 3, 12, a) == _ref_digest("share", CASE, 3, 12, a)
    assert EMPTY_TOP == hashlib.sha256(b"").digest()
    # Every committed field matters.
    base = root_digest("share", CASE, 3, 12, a)
    assert len({base, root_digest("liabilities", CASE, 3, 12, a), root_digest("share", "HZ000002", 3, 12, a),
                root_digest("share", CASE, 4, 12, a), root_digest("share", CASE, 3, 13, a),
                root_digest("share", CASE, 3, 12, b)}) == 6
    # Both children's sums are committed, not only their total (the Maxwell flaw).
    assert node_hash(a, 5, b, 7) != node_hash(a, 4, b, 8)


@pytest.mark.parametrize("n", range(0, 70))
def test_builder_matches_the_recursive_definition(n: int) -> None:
    leaves = _leaves(n)
    builder = SumTreeBuilder("share", CASE)
    builder.extend(leaves)
    top, total = _ref_top(leaves)
    assert builder.top() == (top, total)
    root = builder.root()
    assert (root.count, root.sum) == (n, sum(a for _, a in leaves))
    assert root.digest == _ref_digest("share", CASE, n, total, top)


def test_path_shape_names_each_siblings_side_and_size() -> None:
    # 7 leaves: [[0,1],[2,3]] | [[4,5],6]. Leaf 6: sibling [4,5] on the left, then [0..3] on the left.
    assert path_shape(6, 7) == [(True, 2), (True, 4)]
    assert path_shape(0, 7) == [(False, 1), (False, 2), (False, 3)]
    assert path_shape(4, 5) == [(True, 4)]
    assert path_shape(0, 1) == []
    with pytest.raises(ProofShapeError):
        path_shape(5, 5)


def test_amounts_are_parsed_strictly_and_never_as_floats() -> None:
    assert parse_yuan("2.04") == 204
    assert parse_yuan("0.00") == 0
    assert parse_yuan("184467440737095516.15") == U64_MAX
    assert format_yuan(U64_MAX) == "184467440737095516.15"
    with pytest.raises(AmountOutOfRange, match="negative"):
        parse_yuan("-0.01")
    with pytest.raises(AmountOutOfRange, match="64 bits"):
        parse_yuan("184467440737095516.16")
    for bad in ("2.4", "02.04", "+2.04", " 2.04", "2.040", "2", "", "２.04"):
        with pytest.raises(MalformedInput):
            parse_yuan(bad)
    with pytest.raises(MalformedInput):
        parse_yuan(2.04)  # type: ignore[arg-type]


# ---------------------------------------------------------------- refusals while building


def test_share_trees_refuse_zero_negative_and_oversized_leaves() -> None:
    builder = SumTreeBuilder("share", CASE)
    h = hashlib.sha256(b"x").digest()
    for amount in (0, -1, U64_MAX + 1):
        with pytest.raises(AmountOutOfRange):
            builder.add(h, amount)
    with pytest.raises(AmountOutOfRange):
        builder.add(h, True)  # type: ignore[arg-type]
    with pytest.raises(MalformedInput):
        builder.add(b"short", 5)
    assert builder.count == 0


def test_liabilities_trees_accept_zero_but_not_negative_or_overflow() -> None:
    builder = SumTreeBuilder("liabilities", "liabilities-2026-11-25")
    h = hashlib.sha256(b"x").digest()
    builder.add(h, 0)
    builder.add(h, U64_MAX)
    with pytest.raises(AmountOutOfRange, match="overflows"):
        builder.add(h, 1)
    with pytest.raises(AmountOutOfRange):
        builder.add(h, -5)
    assert (builder.count, builder.total) == (2, U64_MAX)


def test_unknown_kinds_and_bad_tree_ids_are_refused() -> None:
    with pytest.raises(MalformedInput, match="unknown tree kind"):
        SumTreeBuilder("bonus", CASE)
    for bad in ("", "HZ|1", "a" * 65, "案件1", "-HZ"):
        with pytest.raises(MalformedInput):
            SumTreeBuilder("share", bad)


# ---------------------------------------------------------------- proofs


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 9, 16, 17, 33])
def test_every_proof_verifies_and_level_files_give_the_same_proofs(n: int, tmp_path: Path) -> None:
    leaves = _leaves(n)
    root = _tree(leaves)
    stored = write_level_file(tmp_path / "t.lv", "share", CASE, n, iter(leaves))
    assert stored == root
    with LevelFile(tmp_path / "t.lv") as levels:
        assert levels.root == root
        for i, (h, amount) in enumerate(leaves):
            proof = inclusion_proof("share", CASE, leaves, i)
            assert levels.proof(i) == proof
            assert levels.leaf(i) == (h, amount)
            verified = verify_inclusion(h, amount, proof, root, max_leaf=300)
            assert len(verified.steps) == len(proof.path)
            assert (verified.steps[-1].node_sum if verified.steps else amount) == root.sum


def test_level_file_refuses_a_stream_of_the_wrong_length(tmp_path: Path) -> None:
    leaves = _leaves(5)
    with pytest.raises(SumMismatch, match="held 5 leaves, 6 were announced"):
        write_level_file(tmp_path / "a.lv", "share", CASE, 6, iter(leaves))
    assert not (tmp_path / "a.lv").exists()
    with pytest.raises(SumMismatch, match="more than the 4"):
        write_level_file(tmp_path / "b.lv", "share", CASE, 4, iter(leaves))
    assert not (tmp_path / "b.lv").exists()
    (tmp_path / "c.lv").write_bytes(b"not a level file" * 20)
    with pytest.raises(MalformedInput):
        LevelFile(tmp_path / "c.lv")


def test_empty_tree_root() -> None:
    root = _tree([])
    assert (root.count, root.sum) == (0, 0)
    assert root.digest == _ref_digest("share", CASE, 0, 0, hashlib.sha256(b"").digest())


def _proof_for(n: int, index: int) -> tuple[list[tuple[bytes, int]], SumRoot, InclusionProof]:
    leaves = _leaves(n)
    return leaves, _tree(leaves), inclusion_proof("share", CASE, leaves, index)


def test_tampered_proofs_are_refused_with_the_reason() -> None:
    leaves, root, proof = _proof_for(11, 6)
    h, amount = leaves[6]
    verify_inclusion(h, amount, proof, root)

    def refused(exc: type[VerificationError], **change: object) -> None:
        args = {"leaf_hash": h, "amount": amount, "proof": proof, "root": root, **change}
        with pytest.raises(exc):
            verify_inclusion(args["leaf_hash"], args["amount"], args["proof"], args["root"])  # type: ignore[arg-type]

    path = list(proof.path)
    refused(SumMismatch, amount=amount + 1)
    refused(RootMismatch, leaf_hash=hashlib.sha256(b"other").digest())
    refused(AmountOutOfRange, amount=0)
    refused(AmountOutOfRange, amount=-1)
    refused(SumMismatch, proof=_with(proof, path=(((path[0][0], path[0][1] + 1)), *path[1:])))
    refused(RootMismatch, proof=_with(proof, path=((hashlib.sha256(b"z").digest(), path[0][1]), *path[1:])))
    refused(ProofShapeError, proof=_with(proof, path=tuple(path[:-1])))
    refused(ProofShapeError, proof=_with(proof, path=(*path, path[0])))
    refused(RootMismatch, proof=_with(proof, index=7))
    refused(ProofShapeError, proof=_with(proof, count=12))
    refused(RootMismatch, proof=_with(proof, tree_id="HZ000002"))
    refused(RootMismatch, root=SumRoot(root.kind, root.tree_id, root.count, root.sum, b"\x00" * 32))
    refused(SumMismatch, root=SumRoot(root.kind, root.tree_id, root.count, root.sum + 1, root.digest))
    # Siblings swapped: the sizes no longer fit, or the hashes do not.
    swapped = _with(proof, path=(path[1], path[0], *path[2:]))
    with pytest.raises(VerificationError):
        verify_inclusion(h, amount, swapped, root)


def _with(proof: InclusionProof, **change: object) -> InclusionProof:
    data = {"kind": proof.kind, "tree_id": proof.tree_id, "index": proof.index, "count": proof.count,
            "path": proof.path, **change}
    return InclusionProof(**data)  # type: ignore[arg-type]


def test_sibling_sums_are_range_checked_against_their_leaf_counts() -> None:
    """An operator cannot hide a zero, negative or oversized member inside a sibling subtree."""
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    # A forged "share tree" whose second leaf is 0.00: the builder refuses it, so forge by hand.
    top = node_hash(a, 100, b, 0)
    root = SumRoot("share", CASE, 2, 100, root_digest("share", CASE, 2, 100, top))
    proof = InclusionProof("share", CASE, 0, 2, ((b, 0),))
    with pytest.raises(AmountOutOfRange, match="sibling holds 1 leaves"):
        verify_inclusion(a, 100, proof, root)
    # Above the cap for its size, when the verifier knows the cap.
    top = node_hash(a, 100, b, 301)
    root = SumRoot("share", CASE, 2, 401, root_digest("share", CASE, 2, 401, top))
    proof = InclusionProof("share", CASE, 0, 2, ((b, 301),))
    verify_inclusion(a, 100, proof, root)  # fine without a cap ...
    with pytest.raises(AmountOutOfRange):
        verify_inclusion(a, 100, proof, root, max_leaf=300)  # ... refused with it


def test_maxwell_split_attack_fails() -> None:
    """Two members of 10.00 each; the operator wants a root of 10.00 and shows each a sibling of 0.00.

    With Maxwell's first design (the parent hashes only the total) both proofs would check out. Here
    the parent commits to both children's sums, so the operator would need two different roots.
    """
    a, b = hashlib.sha256(b"member a").digest(), hashlib.sha256(b"member b").digest()
    honest = _tree([(a, 1000), (b, 1000)])
    assert honest.sum == 2000
    for my_leaf, index in ((a, 0), (b, 1)):
        other = b if index == 0 else a
        # Root claiming 10.00, built as the operator would have to for this member's view.
        top = node_hash(my_leaf, 1000, other, 0) if index == 0 else node_hash(other, 0, my_leaf, 1000)
        forged = SumRoot("liabilities", CASE, 2, 1000, root_digest("liabilities", CASE, 2, 1000, top))
        proof = InclusionProof("liabilities", CASE, index, 2, ((other, 0),))
        verify_inclusion(my_leaf, 1000, proof, forged)  # each view alone is consistent ...
    view_a = node_hash(a, 1000, b, 0)
    view_b = node_hash(a, 0, b, 1000)
    assert view_a != view_b  # ... but the two views need two different roots: one published root exposes it


def test_proof_and_root_json_round_trip_and_refuse_malformed_input() -> None:
    leaves, root, proof = _proof_for(9, 4)
    assert InclusionProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof
    assert SumRoot.from_json(json.loads(json.dumps(root.to_json()))) == root
    bad_proofs = [
        {**proof.to_json(), "index": -1},
        {**proof.to_json(), "index": True},
        {**proof.to_json(), "path": "x"},
        {**proof.to_json(), "path": [{"hash": "AB" * 32, "sum": "1.00"}]},
        {**proof.to_json(), "path": [{"hash": "ab" * 32, "sum": 1.0}]},
        {**proof.to_json(), "kind": "bonus"},
        {k: v for k, v in proof.to_json().items() if k != "count"},
    ]
    for bad in bad_proofs:
        with pytest.raises(VerificationError):
            InclusionProof.from_json(bad)
    for bad in ({**root.to_json(), "count": "9"}, {**root.to_json(), "sum": "-1.00"}, [], {"hash": "00"}):
        with pytest.raises(VerificationError):
            SumRoot.from_json(bad)


@settings(max_examples=150, deadline=None)
@given(amounts=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=80), data=st.data())
def test_any_single_change_to_a_proof_is_caught(amounts: list[int], data: st.DataObject) -> None:
    leaves = [(hashlib.sha256(i.to_bytes(4, "big")).digest(), a) for i, a in enumerate(amounts)]
    root = _tree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1), label="index")
    proof = inclusion_proof("share", CASE, leaves, index)
    h, amount = leaves[index]
    verify_inclusion(h, amount, proof, root, max_leaf=300)
    what = data.draw(st.sampled_from(["amount", "leaf", "sibling_hash", "sibling_sum", "index", "count", "root_sum"]))
    delta = data.draw(st.sampled_from([-1, 1, 2, 100]))
    if what == "amount":
        args = (h, amount + delta, proof, root)
    elif what == "leaf":
        args = (bytes([h[0] ^ 1]) + h[1:], amount, proof, root)
    elif what in ("sibling_hash", "sibling_sum"):
        if not proof.path:
            return
        k = data.draw(st.integers(min_value=0, max_value=len(proof.path) - 1))
        sh, ss = proof.path[k]
        step = (sh[:5] + bytes([sh[5] ^ 0x80]) + sh[6:], ss) if what == "sibling_hash" else (sh, ss + delta)
        args = (h, amount, _with(proof, path=(*proof.path[:k], step, *proof.path[k + 1:])), root)
    elif what == "index":
        args = (h, amount, _with(proof, index=proof.index + delta), root)
    elif what == "count":
        changed = SumRoot(root.kind, root.tree_id, root.count + delta, root.sum, root.digest)
        args = (h, amount, _with(proof, count=changed.count), changed)
    else:
        args = (h, amount, proof, SumRoot(root.kind, root.tree_id, root.count, root.sum + delta, root.digest))
    with pytest.raises(VerificationError):
        verify_inclusion(*args, max_leaf=300)  # type: ignore[arg-type]


def test_add_and_extend_build_the_same_tree_and_refuse_the_same_leaves() -> None:
    leaves = _leaves(37)
    one, bulk = SumTreeBuilder("share", CASE), SumTreeBuilder("share", CASE)
    for h, amount in leaves:
        one.add(h, amount)
    bulk.extend(iter(leaves))
    assert one.root() == bulk.root()
    h = hashlib.sha256(b"x").digest()
    for bad, exc in (((h, 0), AmountOutOfRange), ((h, -3), AmountOutOfRange), ((b"short", 5), MalformedInput),
                     ((h, 2.5), AmountOutOfRange)):
        builder = SumTreeBuilder("share", CASE)
        with pytest.raises(exc):
            builder.extend([(h, 7), bad, (h, 9)])
        assert (builder.count, builder.total) == (1, 7)  # what was added before the refusal stays counted
    overflow = SumTreeBuilder("liabilities", CASE)
    with pytest.raises(AmountOutOfRange, match="overflows"):
        overflow.extend([(h, U64_MAX), (h, 1)])
    assert (overflow.count, overflow.total) == (1, U64_MAX)


def test_a_level_file_can_be_written_from_a_list(tmp_path: Path) -> None:
    leaves = _leaves(12)
    assert write_level_file(tmp_path / "l.lv", "share", CASE, 12, leaves) == _tree(leaves)


# ---------------------------------------------------------------- the batch path (database-backed builds)


def _leaf_list(n: int, seed: int) -> list[tuple[bytes, int]]:
    return [(b"\x00" + hashlib.sha256(b"%d/%d" % (seed, i)).digest()[1:], (i * 7919 + seed) % 5000 + 1)
            for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), cuts=st.lists(st.integers(0, 300), max_size=6), seed=st.integers(0, 9))
def test_a_level_file_written_in_batches_has_the_same_bytes(n: int, cuts: list[int], seed: int,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("batches")
    leaves = _leaf_list(n, seed)
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    batches = [([h for h, _ in leaves[a:b]], [s for _, s in leaves[a:b]]) for a, b in zip(bounds, bounds[1:], strict=False)]
    one = write_level_file(folder / "one", "share", CASE, n, leaves)
    many = write_level_file_batches(folder / "many", "share", CASE, n, batches)
    assert many == one
    assert (folder / "many").read_bytes() == (folder / "one").read_bytes()
    builder = SumTreeBuilder("share", CASE)
    for hashes, amounts in batches:
        builder.extend_batch(hashes, amounts)
    assert builder.root() == one


def test_a_batch_with_a_bad_leaf_is_refused_at_that_leaf(tmp_path: Path) -> None:
    leaves = _leaf_list(10, 1)
    hashes, amounts = [h for h, _ in leaves], [s for _, s in leaves]
    for bad_amounts, bad_hashes, error in ((amounts[:6] + [0] + amounts[7:], hashes, AmountOutOfRange),
                                           (amounts, hashes[:3] + [b"\x00" * 31] + hashes[4:], MalformedInput),
                                           (amounts[:2] + [U64_MAX] + amounts[3:], hashes, AmountOutOfRange)):
        builder = SumTreeBuilder("share", CASE)
        with pytest.raises(error):
            builder.extend_batch(bad_hashes, bad_amounts)
        good = SumTreeBuilder("share", CASE)
        good.extend(zip(hashes[:builder.count], amounts[:builder.count], strict=True))
        assert builder.root() == good.root()
    with pytest.raises(SumMismatch):
        write_level_file_batches(tmp_path / "long", "share", CASE, 9, [(hashes, amounts)])
    assert not (tmp_path / "long").exists()
    with pytest.raises(SumMismatch):
        write_level_file_batches(tmp_path / "short", "share", CASE, 11, [(hashes, amounts)])
