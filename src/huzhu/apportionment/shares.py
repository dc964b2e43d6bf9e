"""Equal shares with a cap, water-filled, exact to the fen. Pure: no database.

Each sharing member *i* can pay ``capacity_i = min(cap, balance_i)``. The case needs ``benefit``.

* If Σ capacity ≤ benefit, everyone pays their capacity and the rest is the published shortfall.
* Otherwise find the largest whole-fen level ``L`` with Σ min(L, capacity_i) ≤ benefit. Everyone
  pays ``min(L, capacity_i)`` (equal shares; those whose balance is lower pay what they have and
  the others cover it, up to the cap). The ``leftover`` = benefit − Σ min(L, capacity_i) fen is
  smaller than the number of members able to pay one fen more, and goes one fen each to them.

**Leftover rule (published):** the members able to pay one more fen, taken in ascending member
number starting from the case's *pivot* and wrapping around; the pivot is
``int(SHA-256(case number)) mod (highest sharing member number) + 1``, so the extra fen rotate
between cases instead of always falling on the same members.

Because the capacities take at most ``cap + 1`` distinct values, the level is found from a
histogram of capacities: a few hundred numbers, whatever the member count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Allocation:
    benefit: int
    level: int  # every member pays min(level, capacity) ...
    leftover: int  # ... and this many members pay one fen more
    collected: int
    shortfall: int
    sharing_members: int
    paying_members: int
    limited_by_balance: int  # members who paid less than the equal share because of their balance


def _raised_at(level: int, histogram: Mapping[int, int]) -> int:
    return sum(min(level, capacity) * count for capacity, count in histogram.items())


def allocate_level(histogram: Mapping[int, int], benefit: int) -> Allocation:
    """Find the equal share for ``benefit`` given how many members can pay each capacity (in fen)."""
    if benefit <= 0:
        raise ValueError("benefit must be positive")
    if any(capacity < 0 or count < 0 for capacity, count in histogram.items()):
        raise ValueError("capacities and counts must not be negative")
    sharing = sum(histogram.values())
    capacity_total = _raised_at(max(histogram, default=0), histogram)
    if capacity_total <= benefit:
        level, leftover, collected = max(histogram, default=0), 0, capacity_total
    else:
        low, high = 0, max(histogram)  # raised(low) ≤ benefit < raised(high)
        while high - low > 1:
            mid = (low + high) // 2
            if _raised_at(mid, histogram) <= benefit:
                low = mid
            else:
                high = mid
        level = low
        leftover = benefit - _raised_at(level, histogram)
        collected = benefit
    # Members paying something: a share at the level, or (when the level is 0) a leftover fen.
    paying = sum(count for capacity, count in histogram.items() if capacity > 0) if level > 0 else leftover
    limited = sum(count for capacity, count in histogram.items() if capacity < level)
    return Allocation(
        benefit=benefit, level=level, leftover=leftover, collected=collected,
        shortfall=benefit - collected, sharing_members=sharing, paying_members=paying,
        limited_by_balance=limited,
    )


def leftover_pivot(case_no: str, highest_member_id: int) -> int:
    """Where the leftover fen start (see the module doc): a member number in 1..highest."""
    if highest_member_id < 1:
        return 1
    digest = int.from_bytes(hashlib.sha256(case_no.encode("utf-8")).digest(), "big")
    return digest % highest_member_id + 1


def allocate_shares(
    capacities: Mapping[int, int], benefit: int, *, pivot: int
) -> tuple[Allocation, dict[int, int]]:
    """Reference allocation per member (member number → capacity), for tests and small pools.

    The database path computes the same numbers set-based; tests hold the two equal.
    """
    histogram: dict[int, int] = {}
    for capacity in capacities.values():
        histogram[capacity] = histogram.get(capacity, 0) + 1
    allocation = allocate_level(histogram, benefit) if capacities else allocate_level({0: 0}, benefit)
    shares = {member: min(allocation.level, capacity) for member, capacity in capacities.items()}
    if allocation.leftover:
        able = sorted((m for m, c in capacities.items() if c > allocation.level), key=lambda m: (m < pivot, m))
        for member in able[: allocation.leftover]:
            shares[member] += 1
    return allocation, shares


def published_rule() -> str:
    return (
        "Leftover fen go one each to the members able to pay one fen more, in ascending member "
        "number starting at the pivot int(SHA-256(case number)) mod (highest sharing member number) + 1 "
        "and wrapping around."
    )

