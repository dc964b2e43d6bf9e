"""The public operating figures: members, cover in force, cases, aid paid, shortfalls, fees
(zero), money held at the custodian, charts over time, reconciliations and the public record's
head. One computation for the home page, the operating report and the API's ``/report``.

Each is a whole-table aggregate; callers cache them briefly (``Platform.public_figures``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from huzhu.apportionment.models import ApportionmentRun
from huzhu.custody.models import Reconciliation
from huzhu.db import sum_fen
from huzhu.ledger.models import CASE_POOL, MEMBER_BALANCE, LedgerAccount
from huzhu.ledger.service import custody_cash_balance
from huzhu.members.models import Enrollment, EnrollmentStatus, Member
from huzhu.notices.models import Case, CaseStatus
from huzhu.transparency.service import tree_head


def public_stats(s: Session) -> dict[str, int]:
    return {
        "members": s.scalar(select(func.count(func.distinct(Enrollment.member_id))).where(
            Enrollment.status != EnrollmentStatus.LEFT)) or 0,
        "in_force": s.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.status == EnrollmentStatus.ACTIVE)) or 0,
        "suspended": s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.status == EnrollmentStatus.SUSPENDED)) or 0,
        "cases": s.scalar(select(func.count()).select_from(Case).where(Case.status != CaseStatus.WITHDRAWN)) or 0,
        "in_notice": s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.IN_NOTICE)) or 0,
        "paid_fen": s.scalar(select(sum_fen(Case.collected_fen)).where(Case.status == CaseStatus.PAID)) or 0,
        "shortfall_fen": s.scalar(select(sum_fen(Case.shortfall_fen))) or 0,
        "fees_fen": s.scalar(select(sum_fen(Case.fee_fen))) or 0,
        "custody_fen": custody_cash_balance(s),
        "runs": s.scalar(select(func.count()).select_from(ApportionmentRun)) or 0,
        "accounts_members": s.scalar(select(func.count()).select_from(Member)) or 0,
    }


def _month(year: Any, month: Any) -> str:
    return f"{int(year):04d}-{int(month):02d}"


def chart_series(s: Session) -> dict[str, list[tuple[str, int]]]:
    """Members over time (first joining month, cumulative), aid paid per month, average cost per member
    per run (collected ÷ members charged, in fen)."""
    first = (select(Enrollment.member_id, func.min(Enrollment.joined_on).label("d"))
             .group_by(Enrollment.member_id).subquery())
    joined = s.execute(select(extract("year", first.c.d), extract("month", first.c.d), func.count())
                       .group_by(extract("year", first.c.d), extract("month", first.c.d))
                       .order_by(extract("year", first.c.d), extract("month", first.c.d))).all()
    members, total = [], 0
    for year, month, count in joined:
        total += int(count)
        members.append((_month(year, month), total))
    paid = s.execute(select(extract("year", Case.paid_at), extract("month", Case.paid_at),
                            sum_fen(Case.collected_fen))
                     .where(Case.status == CaseStatus.PAID)
                     .group_by(extract("year", Case.paid_at), extract("month", Case.paid_at))
                     .order_by(extract("year", Case.paid_at), extract("month", Case.paid_at))).all()
    aid = [(_month(y, m), v) for y, m, v in paid]
    per_member = []
    for run in s.scalars(select(ApportionmentRun).order_by(ApportionmentRun.id).limit(60)):
        if run.sharing_members:
            per_member.append((run.run_no, run.total_collected_fen // run.sharing_members))
    return {"members": members, "aid": aid, "per_member": per_member}


def report_books(s: Session) -> dict[str, Any]:
    """The custodian reconciliations, the public record's tree head and members per plan."""
    by_plan: dict[str, int] = defaultdict(int)
    for code, count in s.execute(select(Enrollment.plan_code, func.count()).where(Enrollment.status != EnrollmentStatus.LEFT)
                                 .group_by(Enrollment.plan_code)):
        by_plan[code] = count
    return {"reconciliations": list(s.scalars(select(Reconciliation).order_by(Reconciliation.id.desc()).limit(50))),
            "head": tree_head(s), "by_plan": by_plan}


def finance_figures(s: Session) -> dict[str, int]:
    """The auditor's two sides of the books: cash at the custodian against what the platform owes
    (every member's balance and every case pool not yet paid out); equal when the books hold."""
    liabilities = s.scalar(select(sum_fen(LedgerAccount.credits_posted - LedgerAccount.debits_posted))
                           .where(LedgerAccount.kind.in_((MEMBER_BALANCE, CASE_POOL)))) or 0
    custody = custody_cash_balance(s)
    return {"custody_fen": custody, "liabilities_fen": liabilities, "difference_fen": custody - liabilities}
