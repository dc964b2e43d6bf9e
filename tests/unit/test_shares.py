"""Equal shares with a cap, water-filled, exact to the fen (``huzhu.apportionment.shares``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.apportionment.shares import allocate_level, allocate_shares, leftover_pivot, published_rule

CAP = 300

# member number → capacity = min(cap, balance); member numbers are sparse like real ids.
capacities_st = st.dictionaries(
    keys=st.integers(min_value=1, max_value=5_000),
    values=st.one_of(st.integers(min_value=0, max_value=CAP), st.just(CAP), st.just(0)),
    min_size=0,
    max_size=60,
)
benefit_st = st.integers(min_value=1, max_value=20_000)


def _pivot_for(capacities: dict[int, int], data: st.DataObject) -> int:
    highest = max(capacities, default=1)
    return data.draw(st.integers(min_value=1, max_value=max(highest, 1)), label="pivot")


@settings(max_examples=400, deadline=None)
@given(capacities=capacities_st, benefit=benefit_st, data=st.data())
def test_totals_are_exact_and_capped(capacities: dict[int, int], benefit: int, data: st.DataObject) -> None:
    pivot = _pivot_for(capacities, data)
    allocation, shares = allocate_shares(capacities, benefit, pivot=pivot)

    assert set(shares) == set(capacities)
    raised = sum(capacities.values())
    assert sum(shares.values()) == allocation.collected == min(benefit, raised)
    assert allocation.shortfall == benefit - allocation.collected
    assert allocation.shortfall == max(0, benefit - raised)
    assert allocation.benefit == benefit
    for member, share in shares.items():
        assert 0 <= share <= capacities[member] <= CAP
    assert allocation.sharing_members == len(capacities)
    assert allocation.paying_members == sum(1 for s in shares.values() if s > 0)


@settings(max_examples=400, deadline=None)
@given(capacities=capacities_st, benefit=benefit_st, data=st.data())
def test_equal_within_one_fen_among_members_not_limited(
    capacities: dict[int, int], benefit: int, data: st.DataObject
) -> None:
    pivot = _pivot_for(capacities, data)
    allocation, shares = allocate_shares(capacities, benefit, pivot=pivot)
    level = allocation.level
    for member, capacity in capacities.items():
        if capacity > level:
            # Not limited by balance: pays the equal share, or one leftover fen more.
            assert shares[member] in (level, level + 1)
        else:
            # Limited by balance (or exactly at the level): pays everything they can.
            assert shares[member] == capacity
    not_limited = [shares[m] for m, c in capacities.items() if c > level]
    if not_limited:
        assert max(not_limited) - min(not_limited) <= 1
    # Exactly ``leftover`` members pay the extra fen, and there are fewer of those than could.
    extra = [m for m, c in capacities.items() if c > level and shares[m] == level + 1]
    assert len(extra) == allocation.leftover
    assert allocation.leftover < max(1, sum(1 for c in capacities.values() if c > level)) or allocation.leftover == 0
    assert allocation.limited_by_balance == sum(1 for c in capacities.values() if c < level)


@settings(max_examples=300, deadline=None)
@given(capacities=capacities_st, benefit=benefit_st, data=st.data())
def test_level_is_the_largest_that_fits(capacities: dict[int, int], benefit: int, data: st.DataObject) -> None:
    """Water-filling: the level is the highest equal share the benefit allows (nobody pays less than needed)."""
    pivot = _pivot_for(capacities, data)
    allocation, _ = allocate_shares(capacities, benefit, pivot=pivot)
    raised_at = lambda level: sum(min(level, c) for c in capacities.values())  # noqa: E731
    if sum(capacities.values()) > benefit:
        assert raised_at(allocation.level) <= benefit < raised_at(allocation.level + 1)
    else:
        assert allocation.leftover == 0
        assert allocation.collected == sum(capacities.values())


@settings(max_examples=200, deadline=None)
@given(capacities=capacities_st, benefit=benefit_st, data=st.data())
def test_deterministic_and_independent_of_input_order(
    capacities: dict[int, int], benefit: int, data: st.DataObject
) -> None:
    pivot = _pivot_for(capacities, data)
    first = allocate_shares(capacities, benefit, pivot=pivot)
    reordered = dict(reversed(list(capacities.items())))
    second = allocate_shares(reordered, benefit, pivot=pivot)
    assert first == second
    assert first == allocate_shares(capacities, benefit, pivot=pivot)


@settings(max_examples=300, deadline=None)
@given(capacities=capacities_st.filter(lambda c: sum(c.values()) > 1), data=st.data())
def test_leftover_fen_follow_the_published_rotated_order(capacities: dict[int, int], data: st.DataObject) -> None:
    # A benefit the pool can raise in full, so the level is interior and leftover fen usually occur.
    benefit = data.draw(st.integers(min_value=1, max_value=sum(capacities.values()) - 1), label="benefit")
    pivot = _pivot_for(capacities, data)
    allocation, shares = allocate_shares(capacities, benefit, pivot=pivot)
    level = allocation.level
    able = sorted(m for m, c in capacities.items() if c > level)
    # Ascending member number starting at the pivot, wrapping around.
    rotated = [m for m in able if m >= pivot] + [m for m in able if m < pivot]
    expected = set(rotated[: allocation.leftover])
    got = {m for m in able if shares[m] == level + 1}
    assert got == expected
    assert allocation.shortfall == 0 and sum(shares.values()) == benefit


@settings(max_examples=300, deadline=None)
@given(
    histogram=st.dictionaries(st.integers(0, CAP), st.integers(0, 10_000), max_size=CAP + 1),
    benefit=st.integers(1, 10_000_000),
)
def test_allocate_level_on_a_histogram(histogram: dict[int, int], benefit: int) -> None:
    allocation = allocate_level(histogram, benefit)
    raised = sum(c * n for c, n in histogram.items())
    paid_at_level = sum(min(allocation.level, c) * n for c, n in histogram.items())
    assert allocation.collected == min(benefit, raised)
    assert paid_at_level + allocation.leftover == allocation.collected
    assert allocation.shortfall == benefit - allocation.collected
    able = sum(n for c, n in histogram.items() if c > allocation.level)
    assert 0 <= allocation.leftover <= able
    if allocation.leftover:
        assert allocation.leftover < able
    assert allocation.sharing_members == sum(histogram.values())


@given(case_no=st.text(min_size=1, max_size=30), highest=st.integers(1, 10**9))
def test_leftover_pivot_is_stable_and_in_range(case_no: str, highest: int) -> None:
    pivot = leftover_pivot(case_no, highest)
    assert 1 <= pivot <= highest
    assert pivot == leftover_pivot(case_no, highest)


def test_leftover_pivot_known_values() -> None:
    import hashlib

    digest = int.from_bytes(hashlib.sha256(b"HZ000001").digest(), "big")
    assert leftover_pivot("HZ000001", 1000) == digest % 1000 + 1
    assert leftover_pivot("HZ000001", 0) == 1
    assert leftover_pivot("anything", 1) == 1
    # The pivot rotates between cases (not always the same member).
    assert len({leftover_pivot(f"HZ{i:06d}", 10_000) for i in range(1, 50)}) > 40


# ------------------------------------------------------------------------ exact examples


def test_pool_too_small_pays_what_it_can_and_publishes_the_shortfall() -> None:
    capacities = {1: 300, 2: 300, 3: 120, 4: 0}
    allocation, shares = allocate_shares(capacities, 100_000_00, pivot=1)
    assert shares == {1: 300, 2: 300, 3: 120, 4: 0}
    assert allocation.collected == 720
    assert allocation.shortfall == 100_000_00 - 720
    assert allocation.leftover == 0
    assert allocation.paying_members == 3


def test_three_members_100_fen_one_leftover_fen_from_the_pivot() -> None:
    capacities = {10: 300, 20: 300, 30: 300}
    allocation, shares = allocate_shares(capacities, 100, pivot=15)
    assert (allocation.level, allocation.leftover, allocation.collected, allocation.shortfall) == (33, 1, 100, 0)
    assert shares == {10: 33, 20: 34, 30: 33}
    # Pivot past the highest member wraps around to the lowest.
    _, wrapped = allocate_shares(capacities, 100, pivot=31)
    assert wrapped == {10: 34, 20: 33, 30: 33}
    # Two leftover fen starting at 30 wrap to 10.
    _, two = allocate_shares(capacities, 101, pivot=30)
    assert two == {10: 34, 20: 33, 30: 34}


def test_members_short_of_money_are_covered_by_the_others_up_to_the_cap() -> None:
    capacities = {1: 50, 2: 300, 3: 300, 4: 0}
    allocation, shares = allocate_shares(capacities, 500, pivot=1)
    # 50 + 225 + 225 = 500: member 1 pays all they have, the rest is split equally.
    assert shares == {1: 50, 2: 225, 3: 225, 4: 0}
    assert allocation.level == 225 and allocation.leftover == 0
    assert allocation.limited_by_balance == 2  # members 1 and 4
    assert allocation.paying_members == 3
    # Nobody goes above the cap even when that leaves a shortfall.
    allocation, shares = allocate_shares(capacities, 1_000, pivot=1)
    assert shares == {1: 50, 2: 300, 3: 300, 4: 0}
    assert allocation.shortfall == 350


def test_benefit_smaller_than_the_number_of_members() -> None:
    capacities = {m: 300 for m in range(1, 11)}
    allocation, shares = allocate_shares(capacities, 3, pivot=9)
    assert allocation.level == 0 and allocation.leftover == 3
    assert shares == {**{m: 0 for m in range(1, 11)}, 9: 1, 10: 1, 1: 1}
    assert allocation.paying_members == 3


def test_no_members_means_everything_is_shortfall() -> None:
    allocation, shares = allocate_shares({}, 12345, pivot=1)
    assert shares == {}
    assert allocation.collected == 0 and allocation.shortfall == 12345 and allocation.paying_members == 0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        allocate_level({300: 1}, 0)
    with pytest.raises(ValueError):
        allocate_level({-1: 1}, 10)
    with pytest.raises(ValueError):
        allocate_level({300: -1}, 10)


def test_published_rule_names_the_pivot() -> None:
    rule = published_rule()
    assert "SHA-256" in rule and "pivot" in rule and "wrapping" in rule
