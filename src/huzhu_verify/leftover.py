"""The water-filling of one case and the published leftover-fen rules, as an outsider recomputes them.

This module owns the apportionment arithmetic *as published*: the equal share (level) from the
sharers' capacities, and who pays the leftover fen under each versioned rule. It is written apart
from ``huzhu.apportionment.shares`` on purpose (an auditor's check should not run the operator's
code) and the tests hold the two equal fen for fen. Standard library only.

Water-filling (every amount in fen): each sharer *i* can pay ``capacity_i = min(cap, balance_i)``.
If Σ capacity ≤ benefit, everyone pays their capacity and the rest is the shortfall. Otherwise the
level ``L`` is the largest whole fen with Σ min(L, capacity_i) ≤ benefit; everyone pays
``min(L, capacity_i)`` and the ``leftover = benefit − Σ min(L, capacity_i)`` fen (fewer than the
sharers with capacity > L) go one each to sharers with capacity > L chosen by the rule:

* **version 1** (member numbers, every run before version 2): ascending member number from the pivot
  ``int(SHA-256(case number)) mod (highest sharing member number) + 1``, wrapping around. Checkable
  only by someone who holds the member numbers (the platform, an auditor with access).
* **version 2** (pseudonyms): ascending pseudonym (32 bytes, compared as unsigned big-endian
  numbers, i.e. as the published hex), from the first pseudonym ≥ ``SHA-256("huzhu/pivot/v2|" ‖
  case number)``, wrapping around. Checkable by anyone from the run file.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from huzhu_verify.sumtree import HASH_SIZE, AmountOutOfRange, MalformedInput, check_tree_id

__all__ = [
    "RULES",
    "RULE_V1",
    "RULE_V2",
    "Allocation",
    "Apportionment",
    "LeftoverRule",
    "allocate",
    "leftover_split",
    "member_number_pivot",
    "pivot_point",
    "rule_by_version",
    "rule_for",
    "water_fill",
]


@dataclass(frozen=True)
class LeftoverRule:
    """A published leftover-fen rule: runs on or after ``effective_from`` (business date) use it."""

    version: int
    effective_from: date
    key: str  # what orders the sharers: "member_number" (v1) or "pseudonym" (v2)
    text_zh: str
    text_en: str


RULE_V1 = LeftoverRule(
    version=1,
    effective_from=date(2015, 1, 1),
    key="member_number",
    text_zh=(
        "第1版。等额分摊后剩余的尾差分，由还能再多付1分的会员每人多付1分：按会员编号升序，从枢轴"
        " int(SHA-256(事件编号)) mod（参与分摊的最大会员编号）+ 1 开始，到末尾后从最小编号继续。"
    ),
    text_en=(
        "Version 1. Leftover fen go one each to the members able to pay one fen more, in ascending member "
        "number starting at the pivot int(SHA-256(case number)) mod (highest sharing member number) + 1 "
        "and wrapping around."
    ),
)

RULE_V2 = LeftoverRule(
    version=2,
    effective_from=date(2027, 1, 1),
    key="pseudonym",
    text_zh=(
        "第2版（自2027年1月1日起）。等额分摊后剩余的尾差分（总是少于还能再多付1分的会员人数），由这些会员"
        "每人多付1分：按会员在本事件中的假名（运行文件中公布的64位十六进制数，按无符号数比较）升序排列，"
        "从第一个大于或等于本事件枢轴 SHA-256(\"huzhu/pivot/v2|\" + 事件编号) 的假名开始，到最大假名后从最小"
        "假名继续。假名 = SHA-256(\"huzhu/pseudonym/v1|\" + 事件编号 + \"|\" + 会员密钥)，因此任何人都能根据"
        "运行文件核对本规则，而无需知道会员是谁。"
    ),
    text_en=(
        "Version 2 (from 2027-01-01). After the equal share, the leftover fen (always fewer than the sharing "
        "members able to pay one fen more) go one fen each to those members, taken in ascending order of "
        "their pseudonym for the case (the 64 hex digits published in the run file, compared as unsigned "
        "numbers), starting with the first pseudonym greater than or equal to the case's pivot "
        "SHA-256(\"huzhu/pivot/v2|\" + case number) and wrapping around to the smallest pseudonym. A "
        "pseudonym is SHA-256(\"huzhu/pseudonym/v1|\" + case number + \"|\" + the member's secret), so anyone "
        "can check the rule from the run file without knowing who the members are."
    ),
)

RULES: dict[int, LeftoverRule] = {1: RULE_V1, 2: RULE_V2}


def rule_by_version(version: object) -> LeftoverRule:
    if isinstance(version, bool) or not isinstance(version, int) or version not in RULES:
        raise MalformedInput(f"leftover rule version {version!r} is unknown; known: {sorted(RULES)}")
    return RULES[version]


def rule_for(run_date: date) -> LeftoverRule:
    """The rule a run on ``run_date`` (business date) must use: the latest one already in effect."""
    effective = [r for r in RULES.values() if r.effective_from <= run_date]
    if not effective:
        raise MalformedInput(f"no leftover rule was in effect on {run_date.isoformat()}")
    return max(effective, key=lambda r: r.effective_from)


@dataclass(frozen=True)
class Allocation:
    """The published figures of one case's water-filling (same fields as the platform's engine)."""

    benefit: int
    level: int
    leftover: int
    collected: int
    shortfall: int
    sharing_members: int
    paying_members: int
    limited_by_balance: int


def _raised_at(level: int, histogram: Mapping[int, int]) -> int:
    return sum(min(level, capacity) * count for capacity, count in histogram.items())


def water_fill(histogram: Mapping[int, int], benefit: int) -> Allocation:
    """Level, leftover and totals from how many sharers can pay each capacity (fen → count)."""
    if type(benefit) is not int or benefit <= 0:
        raise AmountOutOfRange(f"the benefit must be a positive whole number of fen, not {benefit!r}")
    for capacity, count in histogram.items():
        if type(capacity) is not int or type(count) is not int or capacity < 0 or count < 0:
            raise AmountOutOfRange(f"capacity {capacity!r} × {count!r} sharers: both must be whole numbers ≥ 0")
    sharing = sum(histogram.values())
    highest = max((c for c, n in histogram.items() if n), default=0)
    raised = _raised_at(highest, histogram)
    if raised <= benefit:
        level, leftover, collected = highest, 0, raised
    else:
        low, high = 0, highest  # raised(low) ≤ benefit < raised(high)
        while high - low > 1:
            mid = (low + high) // 2
            if _raised_at(mid, histogram) <= benefit:
                low = mid
            else:
                high = mid
        level, collected = low, benefit
        leftover = benefit - _raised_at(level, histogram)
    paying = sum(n for c, n in histogram.items() if c > 0) if level > 0 else leftover
    limited = sum(n for c, n in histogram.items() if c < level)
    return Allocation(benefit=benefit, level=level, leftover=leftover, collected=collected,
                      shortfall=benefit - collected, sharing_members=sharing, paying_members=paying,
                      limited_by_balance=limited)


def pivot_point(case_no: str) -> bytes:
    """Version 2's pivot: ``SHA-256("huzhu/pivot/v2|" ‖ case number)``."""
    return hashlib.sha256(b"huzhu/pivot/v2|" + check_tree_id(case_no)).digest()


def member_number_pivot(case_no: str, highest_member: int) -> int:
    """Version 1's pivot: a member number in 1..highest (1 when there is no sharer)."""
    if highest_member < 1:
        return 1
    digest = int.from_bytes(hashlib.sha256(case_no.encode("utf-8")).digest(), "big")
    return digest % highest_member + 1


def leftover_split(leftover: int, able_from_pivot: int, able_before_pivot: int) -> tuple[int, int]:
    """How many of the leftover fen fall on able sharers at/after the pivot and how many wrap around."""
    if leftover > able_from_pivot + able_before_pivot:
        raise AmountOutOfRange(f"{leftover} leftover fen but only {able_from_pivot + able_before_pivot} "
                               "sharers able to pay one fen more")
    first = min(leftover, able_from_pivot)
    return first, leftover - first


def _check_keys(capacities: Mapping[Any, int], rule: LeftoverRule) -> None:
    for key in capacities:
        if rule.key == "member_number":
            if isinstance(key, bool) or not isinstance(key, int) or key < 1:
                raise MalformedInput(f"rule 1 orders sharers by member number; {key!r} is not one")
        elif not isinstance(key, bytes) or len(key) != HASH_SIZE:
            raise MalformedInput(f"rule 2 orders sharers by 32-byte pseudonym; {key!r} is not one")


@dataclass(frozen=True)
class Apportionment:
    allocation: Allocation
    shares: dict[Any, int]
    leftover_members: tuple[Any, ...]  # in the order the rule hands out the extra fen
    pivot: Hashable


def allocate(capacities: Mapping[Any, int], benefit: int, rule: LeftoverRule, *, case_no: str) -> Apportionment:
    """Every sharer's exact share of ``benefit``: keys are pseudonyms (rule 2) or member numbers (rule 1)."""
    _check_keys(capacities, rule)
    histogram: dict[int, int] = {}
    for capacity in capacities.values():
        histogram[capacity] = histogram.get(capacity, 0) + 1
    allocation = water_fill(histogram, benefit)
    level = allocation.level
    shares = {key: min(level, capacity) for key, capacity in capacities.items()}
    if rule.key == "member_number":
        pivot: Any = member_number_pivot(case_no, max(capacities, default=0))
    else:
        pivot = pivot_point(case_no)
    able = sorted(key for key, capacity in capacities.items() if capacity > level)
    start = bisect_left(able, pivot)
    first, wrapped = leftover_split(allocation.leftover, len(able) - start, start)
    chosen = tuple(able[start:start + first]) + tuple(able[:wrapped])
    for key in chosen:
        shares[key] += 1
    return Apportionment(allocation=allocation, shares=shares, leftover_members=chosen, pivot=pivot)
