"""The daily liabilities tree (``huzhu_verify.liabilities``): balances and case pools against the bank's cash."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu_verify.liabilities import (
    LiabilitiesBuilder,
    balance_leaf,
    build_liabilities,
    check_member_balance,
    check_pool,
    liabilities_match,
    liabilities_tree_id,
    pool_leaf,
    verify_balance_document,
    verify_pool_document,
)
from huzhu_verify.pseudonyms import leaf_hash, pool_secret, pseudonym, salt
from huzhu_verify.sumtree import (
    LevelFile,
    MalformedInput,
    RootMismatch,
    SumMismatch,
    VerificationError,
    format_yuan,
    inclusion_proof,
)

DAY = date(2026, 11, 25)
VECTORS = Path(__file__).resolve().parents[1] / "data" / "sumtree" / "vectors.json"


def _secret(i: int) -> bytes:
    return hashlib.sha256(f"liabilities member {i}".encode()).digest()


def _book(balances: list[int], pools: dict[str, int]) -> list:  # type: ignore[type-arg]
    leaves = [balance_leaf(_secret(i), DAY, b) for i, b in enumerate(balances)]
    leaves += [pool_leaf(case_no, DAY, amount) for case_no, amount in pools.items()]
    return sorted(leaves, key=lambda leaf: leaf.pseudonym)


def test_leaves_follow_the_documented_bytes() -> None:
    tree_id = "liabilities-2026-11-25"
    assert liabilities_tree_id(DAY) == tree_id
    leaf = balance_leaf(_secret(0), DAY, 1234)
    s, p = salt(_secret(0), tree_id), pseudonym(_secret(0), tree_id)
    assert leaf.leaf_hash == hashlib.sha256(b"\x00huzhu/leaf/balance/v1|" + s + p + (1234).to_bytes(8, "big")).digest()
    pool = pool_leaf("HZ000001", DAY, 500)
    ps = pool_secret("HZ000001")
    assert pool.leaf_hash == leaf_hash("pool", salt(ps, tree_id), pseudonym(ps, tree_id), 500)
    # A member's liabilities pseudonym changes every day and differs from their case pseudonyms.
    assert balance_leaf(_secret(0), date(2026, 11, 26), 1234).pseudonym != leaf.pseudonym


@settings(max_examples=60, deadline=None)
@given(balances=st.lists(st.integers(min_value=0, max_value=100_000), max_size=40),
       pools=st.dictionaries(st.sampled_from([f"HZ{i:06d}" for i in range(1, 9)]),
                             st.integers(min_value=0, max_value=10_000_000), max_size=4),
       cash_delta=st.integers(min_value=-500, max_value=500))
def test_root_sum_is_the_total_liabilities_and_the_difference_is_reported(
        balances: list[int], pools: dict[str, int], cash_delta: int) -> None:
    total = sum(balances) + sum(pools.values())
    root = build_liabilities(DAY, _book(balances, pools))
    assert (root.sum, root.count) == (total, len(balances) + len(pools))
    cash = max(0, total + cash_delta)
    check = liabilities_match(root.sum, cash)
    assert check.difference == cash - total
    assert check.matches == (cash == total)
    if cash < total:
        assert "shortfall at the bank" in check.message and format_yuan(total - cash) in check.message


def test_every_member_and_pool_can_check_their_leaf(tmp_path: Path) -> None:
    balances = [0, 900, 301, 12_345, 3, 0, 77]
    pools = {"HZ000001": 10_000_000, "HZ000004": 0}
    leaves = _book(balances, pools)
    stored = build_liabilities(DAY, iter(leaves), level_path=str(tmp_path / "l.lv"), count=len(leaves))
    assert stored == build_liabilities(DAY, leaves)
    by_pseudonym = {leaf.pseudonym: i for i, leaf in enumerate(leaves)}
    with LevelFile(tmp_path / "l.lv") as levels:
        for i, b in enumerate(balances):
            index = by_pseudonym[balance_leaf(_secret(i), DAY, b).pseudonym]
            check_member_balance(secret=_secret(i), day=DAY, amount=b, proof=levels.proof(index), root=stored)
            with pytest.raises(VerificationError):
                check_member_balance(secret=_secret(i), day=DAY, amount=b + 1, proof=levels.proof(index), root=stored)
        for case_no, amount in pools.items():
            index = by_pseudonym[pool_leaf(case_no, DAY, amount).pseudonym]
            check_pool(case_no=case_no, day=DAY, amount=amount, proof=levels.proof(index), root=stored)
        with pytest.raises(RootMismatch):
            check_member_balance(secret=_secret(1), day=date(2026, 11, 24), amount=900, proof=levels.proof(0),
                                 root=stored)


def test_understated_liabilities_are_caught() -> None:
    """The operator leaves 9.00 of one member's balance out so liabilities match a bank short by 9.00."""
    balances = [500, 900, 301, 12_345]
    pools = {"HZ000001": 10_000_000}
    true_total = sum(balances) + sum(pools.values())
    bank_cash = true_total - 900  # the bank is short by 9.00
    # Honest publication: the difference shows.
    honest = build_liabilities(DAY, _book(balances, pools))
    check = liabilities_match(honest.sum, bank_cash)
    assert not check.matches and check.difference == -900
    assert "exceed the bank's attested cash" in check.message and "9.00" in check.message
    # Understated publication: the sums match the bank ...
    understated_balances = [500, 0, 301, 12_345]
    leaves = _book(understated_balances, pools)
    forged = build_liabilities(DAY, leaves)
    assert liabilities_match(forged.sum, bank_cash).matches
    # ... but member 1, checking their real balance of 9.00 against the published root, is refused.
    pairs = [(leaf.leaf_hash, leaf.amount) for leaf in leaves]
    index = next(i for i, leaf in enumerate(leaves) if leaf.pseudonym == balance_leaf(_secret(1), DAY, 0).pseudonym)
    proof = inclusion_proof("liabilities", liabilities_tree_id(DAY), pairs, index)
    with pytest.raises(SumMismatch):
        check_member_balance(secret=_secret(1), day=DAY, amount=900, proof=proof, root=forged)
    # And a member left out altogether has no leaf to be shown: any proof offered fails.
    leaves_without = _book([500, 301, 12_345], pools)
    pairs = [(leaf.leaf_hash, leaf.amount) for leaf in leaves_without]
    root_without = build_liabilities(DAY, leaves_without)
    for i in range(len(pairs)):
        with pytest.raises(VerificationError):
            check_member_balance(secret=_secret(1), day=DAY, amount=900,
                                 proof=inclusion_proof("liabilities", liabilities_tree_id(DAY), pairs, i),
                                 root=root_without)


def test_order_duplicates_and_inputs_are_checked() -> None:
    builder = LiabilitiesBuilder(DAY)
    a, b = sorted([balance_leaf(_secret(0), DAY, 1), balance_leaf(_secret(1), DAY, 2)], key=lambda x: x.pseudonym)
    builder.add(a)
    with pytest.raises(MalformedInput, match="appears twice"):
        builder.add(a)
    builder.add(b)
    with pytest.raises(MalformedInput, match="out of ascending order"):
        builder.add(a)
    assert (builder.balances, builder.pools) == (2, 0)
    with pytest.raises(MalformedInput):
        build_liabilities(DAY, [b, a])
    with pytest.raises(MalformedInput):
        build_liabilities(DAY, [a, b], level_path="/tmp/x.lv")
    for bad in ((-1, 0), (0, -1), (1.5, 0)):
        with pytest.raises(MalformedInput):
            liabilities_match(*bad)  # type: ignore[arg-type]
    assert liabilities_match(100, 150).message.startswith("the bank holds 0.50 more")


def test_python_verifier_gives_the_vectors_reasons() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    for case in vectors["balance_checks"]:
        result = verify_balance_document(case["document"])
        assert (result.ok, result.reason) == (case["ok"], case["reason"]), case["name"]
    for case in vectors["pool_checks"]:
        result = verify_pool_document(json.dumps(case["document"]))
        assert (result.ok, result.reason) == (case["ok"], case["reason"]), case["name"]
    assert verify_balance_document("{not json").reason == "malformed"
