"""The outsider's water-filling and leftover rules (``huzhu_verify.leftover``) against the engine
(``huzhu.apportionment.shares``), fen for fen."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.apportionment.shares import allocate_level, allocate_shares, leftover_pivot, published_rule
from huzhu_verify.leftover import (
    RULE_V1,
    RULE_V2,
    RULES,
    allocate,
    member_number_pivot,
    pivot_point,
    rule_by_version,
    rule_for,
    water_fill,
)
from huzhu_verify.sumtree import AmountOutOfRange, MalformedInput

CAP = 300
MINIMUM = 300  # the plans' minimum balance equals the cap: the interesting edge

# Capacities clustered where water-filling has edges: 0, 1 fen, just under/at the cap, and random.
capacity_st = st.one_of(st.sampled_from([0, 1, 2, CAP - 1, CAP, MINIMUM - 1]), st.integers(min_value=0, max_value=CAP))
pool_st = st.one_of(
    st.lists(capacity_st, min_size=0, max_size=60),
    st.lists(st.just(CAP), min_size=1, max_size=200),  # many equal capacities
    st.lists(st.sampled_from([1, 2]), min_size=1, max_size=40),  # tiny balances
)
benefit_st = st.one_of(st.integers(min_value=1, max_value=20_000), st.sampled_from([1, 2, 299, 300, 301]))


def _pseudonyms(n: int, salt: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(salt + i.to_bytes(4, "big")).digest() for i in range(n)]


def _histogram(capacities: list[int]) -> dict[int, int]:
    histogram: dict[int, int] = {}
    for c in capacities:
        histogram[c] = histogram.get(c, 0) + 1
    return histogram


@settings(max_examples=500, deadline=None)
@given(capacities=pool_st, benefit=benefit_st)
def test_water_fill_equals_the_engine(capacities: list[int], benefit: int) -> None:
    histogram = _histogram(capacities)
    engine = allocate_level(histogram or {0: 0}, benefit)
    assert asdict(water_fill(histogram, benefit)) == asdict(engine)


@settings(max_examples=400, deadline=None)
@given(capacities=st.dictionaries(st.integers(min_value=1, max_value=5_000), capacity_st, max_size=60),
       benefit=benefit_st, case=st.integers(min_value=1, max_value=999_999))
def test_rule_1_gives_every_member_the_engines_share(capacities: dict[int, int], benefit: int, case: int) -> None:
    case_no = f"HZ{case:06d}"
    pivot = leftover_pivot(case_no, max(capacities, default=0))
    engine_allocation, engine_shares = allocate_shares(capacities, benefit, pivot=pivot)
    result = allocate(capacities, benefit, RULE_V1, case_no=case_no)
    assert result.pivot == pivot == member_number_pivot(case_no, max(capacities, default=0))
    assert asdict(result.allocation) == asdict(engine_allocation)
    assert result.shares == engine_shares


@settings(max_examples=400, deadline=None)
@given(capacities=pool_st, benefit=benefit_st, case=st.integers(min_value=1, max_value=999_999))
def test_rule_2_shares_are_exact_and_follow_the_published_order(capacities: list[int], benefit: int,
                                                                case: int) -> None:
    case_no = f"HZ{case:06d}"
    keys = _pseudonyms(len(capacities), case_no.encode())
    pool = dict(zip(keys, capacities, strict=True))
    result = allocate(pool, benefit, RULE_V2, case_no=case_no)
    a = result.allocation
    assert asdict(a) == asdict(allocate_level(_histogram(capacities) or {0: 0}, benefit))
    assert sum(result.shares.values()) == a.collected
    # Written out the long way: rotate the able members so the first at/after the pivot comes first.
    able = sorted(k for k, c in pool.items() if c > a.level)
    pivot = pivot_point(case_no)
    start = next((i for i, k in enumerate(able) if k >= pivot), len(able))
    rotated = able[start:] + able[:start]
    assert list(result.leftover_members) == rotated[: a.leftover]
    for key, capacity in pool.items():
        extra = 1 if key in result.leftover_members else 0
        assert result.shares[key] == min(a.level, capacity) + extra <= capacity


def test_a_small_case_by_hand() -> None:
    """Benefit 7.00 over five sharers: one can pay only 0.50, one nothing, three up to the cap.
    The level is the largest L with 50 + 3 × min(L, 300) ≤ 700."""
    keys = sorted(_pseudonyms(5, b"hand"))
    pool = {keys[0]: 300, keys[1]: 50, keys[2]: 300, keys[3]: 0, keys[4]: 300}
    result = allocate(pool, 700, RULE_V2, case_no="HZ000007")
    a = result.allocation
    # 50 + 3 × L ≤ 700 → L = 216, raised 698, 2 leftover fen among the three able members.
    assert (a.level, a.leftover, a.collected, a.shortfall) == (216, 2, 700, 0)
    assert (a.sharing_members, a.paying_members, a.limited_by_balance) == (5, 4, 2)
    assert sorted(result.shares.values()) == [0, 50, 216, 217, 217]
    # Shortfall: everyone pays their capacity.
    short = allocate(pool, 1_000, RULE_V2, case_no="HZ000007")
    assert (short.allocation.collected, short.allocation.shortfall) == (950, 50)
    assert short.shares == pool


def test_rules_are_versioned_with_dates_and_both_languages() -> None:
    assert sorted(RULES) == [1, 2]
    assert RULE_V1.text_en.endswith(published_rule())  # version 1 is the rule past runs used, word for word
    for rule in RULES.values():
        assert rule.text_zh and rule.text_en
    assert "huzhu/pivot/v2|" in RULE_V2.text_en and "huzhu/pivot/v2|" in RULE_V2.text_zh
    assert rule_for(date(2016, 2, 23)) is RULE_V1
    assert rule_for(RULE_V2.effective_from) is RULE_V2
    assert rule_for(date(2030, 1, 1)) is RULE_V2
    with pytest.raises(MalformedInput):
        rule_for(date(2000, 1, 1))
    with pytest.raises(MalformedInput):
        rule_by_version(3)


def test_allocate_refuses_keys_of_the_wrong_kind_and_bad_amounts() -> None:
    with pytest.raises(MalformedInput):
        allocate({1: 300}, 100, RULE_V2, case_no="HZ000001")
    with pytest.raises(MalformedInput):
        allocate({b"x" * 32: 300}, 100, RULE_V1, case_no="HZ000001")
    with pytest.raises(AmountOutOfRange):
        allocate({b"x" * 32: -1}, 100, RULE_V2, case_no="HZ000001")
    with pytest.raises(AmountOutOfRange):
        water_fill({300: 2}, 0)
