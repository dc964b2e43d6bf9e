"""Before a run: what a case in notice is expected to cost each member, and what a member's balance
will bear — the same water-filling the run uses (``shares.allocate_level``) over the members who
would share it if the run happened when its notice ends.

The forecast reads the capacities as they are now; a top-up, a withdrawal or another case shared
first changes them, so pages call it *expected*. It is one ``GROUP BY`` over the plan's
enrollments per case (at most ``cap + 1`` rows back), never a row per member in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from huzhu.apportionment.shares import allocate_level
from huzhu.claims.models import Claim
from huzhu.clock import business_date
from huzhu.ledger.models import LedgerAccount
from huzhu.members.models import Enrollment, EnrollmentStatus, Member
from huzhu.notices.models import Case, CaseStatus
from huzhu.plans.schemas import Plan

_HISTOGRAM = text(
    """
    SELECT capacity, COUNT(*) FROM (
      SELECT CASE WHEN a.credits_posted - a.debits_posted - a.debits_pending >= :cap THEN :cap
                  WHEN a.credits_posted - a.debits_posted - a.debits_pending <= 0 THEN 0
                  ELSE a.credits_posted - a.debits_posted - a.debits_pending END AS capacity
      FROM enrollments e
      JOIN ledger_accounts a ON a.id = e.ledger_account_id
      WHERE e.plan_code = :plan AND e.status = 'active' AND e.shares_from <= :day AND e.member_id <> :claimant
    ) capacities GROUP BY capacity
    """
)


@dataclass(frozen=True)
class ExpectedShare:
    """A case in notice, shared as if the run happened when its notice ends."""

    case_no: str
    amount_fen: int
    run_after: datetime  # the notice's end: the first run after it shares the case
    sharing_members: int
    share_fen: int  # the equal share; ``plus_one_fen`` members pay one fen more
    plus_one_fen: int
    collected_fen: int
    shortfall_fen: int
    cap_fen: int


def expected_share(session: Session, *, case: Case, plan: Plan, now: datetime) -> ExpectedShare:
    claim = session.get(Claim, case.claim_id)
    day = business_date(max(now, case.notice_ends_at))
    histogram = {int(c): int(n) for c, n in session.execute(_HISTOGRAM, {
        "cap": plan.cap_per_case_fen, "plan": plan.code, "day": day,
        "claimant": claim.member_id if claim else 0})}
    allocation = allocate_level(histogram or {0: 0}, case.amount_fen)
    return ExpectedShare(case_no=case.case_no, amount_fen=case.amount_fen, run_after=case.notice_ends_at,
                         sharing_members=allocation.sharing_members, share_fen=allocation.level,
                         plus_one_fen=allocation.leftover, collected_fen=allocation.collected,
                         shortfall_fen=allocation.shortfall, cap_fen=plan.cap_per_case_fen)


@dataclass(frozen=True)
class UpcomingShare:
    """A case in notice this member is expected to share, and roughly how much."""

    expected: ExpectedShare
    masked_name: str
    plan_code: str
    share_fen: int  # min(equal share, what the balance can pay); possibly one fen more


@dataclass(frozen=True)
class BalanceOutlook:
    """A member's balance against what is coming: the deduction schedule and the low-balance warning."""

    balance_fen: int
    cap_fen: int  # the most one case can take (the highest cap of the member's plans)
    min_balance_fen: int  # the highest minimum among the member's plans: below it cover pauses
    cases_covered: int  # how many more cases the balance pays in full
    upcoming: list[UpcomingShare]
    upcoming_total_fen: int

    @property
    def after_upcoming_fen(self) -> int:
        return self.balance_fen - self.upcoming_total_fen

    @property
    def low(self) -> bool:
        """One more full share would take the balance under the minimum (cover would pause)."""
        return self.cap_fen > 0 and self.balance_fen - self.cap_fen < self.min_balance_fen


def member_outlook(session: Session, *, member: Member, plans: Mapping[str, Plan], now: datetime,
                   expected: dict[str, ExpectedShare] | None = None) -> BalanceOutlook:
    """The member's balance, how many cases it covers, and each case in notice they will share.

    ``expected`` keeps the forecasts made (by case number), so a page showing several members
    forecasts each case once."""
    expected = {} if expected is None else expected
    account = session.get(LedgerAccount, member.ledger_account_id)
    balance = account.available if account else 0
    enrollments = list(session.scalars(select(Enrollment).where(
        Enrollment.member_id == member.id, Enrollment.status != EnrollmentStatus.LEFT)))
    member_plans = [plans[e.plan_code] for e in enrollments if e.plan_code in plans]
    cap = max((p.cap_per_case_fen for p in member_plans), default=0)
    minimum = max((p.min_balance_fen for p in member_plans), default=0)
    sharing = {e.plan_code: e for e in enrollments if e.status == EnrollmentStatus.ACTIVE}
    upcoming: list[UpcomingShare] = []
    remaining = balance
    cases: Iterable[Case] = session.scalars(select(Case).where(Case.status == CaseStatus.IN_NOTICE, Case.plan_code.in_(list(sharing)))
                            .order_by(Case.notice_ends_at, Case.id)) if sharing else []
    for case in cases:
        claim = session.get(Claim, case.claim_id)
        enrollment = sharing[case.plan_code]
        if claim is not None and claim.member_id == member.id:
            continue  # a claimant does not share their own case
        if enrollment.shares_from > business_date(max(now, case.notice_ends_at)):
            continue
        forecast = expected.get(case.case_no)
        if forecast is None:
            forecast = expected[case.case_no] = expected_share(session, case=case, plan=plans[case.plan_code], now=now)
        share = max(0, min(forecast.share_fen, remaining, plans[case.plan_code].cap_per_case_fen))
        remaining -= share
        upcoming.append(UpcomingShare(expected=forecast, masked_name=case.masked_name, plan_code=case.plan_code,
                                      share_fen=share))
    return BalanceOutlook(balance_fen=balance, cap_fen=cap, min_balance_fen=minimum,
                          cases_covered=balance // cap if cap else 0, upcoming=upcoming,
                          upcoming_total_fen=sum(u.share_fen for u in upcoming))
