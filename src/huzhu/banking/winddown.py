"""Winding a plan (or every plan) down, step by step; ``huzhu wind-down PLAN|--all`` runs :func:`advance`,
which does what is due and can be run again at any time (each step commits on its own):

1. **announced**: no new joins from now (``join_plan`` refuses), the claims window stays open for the
   published number of days; a public record, and a notice to every member concerned.
2. **settling** (the window has closed): the job moves every due case forward (shared → paid); the
   wind-down waits while any claim is undecided or any case unpaid. Members are told the window closed.
3. **refunding**: every enrollment in scope is ended (set-based), and every member whose balance is no
   longer needed by a plan that carries on is refunded through the bank: a two-phase refund and its
   pain.001 in the outbox, to the account the member last paid in from (a member who never paid in by
   bank transfer goes to the exceptions queue). Members are told. The outbox sends the refunds many to
   a pain.001 message (``batch``, default ``OUTBOX_BATCH``), each with its own EndToEndId.
4. **closed**: once every refund is booked by the bank and on an imported camt.053, the final statement
   (its SHA-256, closing balance, the refunds' count and sum) is published; members are told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from huzhu.banking.errors import BankingError
from huzhu.banking.sync import OUTBOX_BATCH, SyncReport, raise_exception, sync
from huzhu.claims.models import Claim, ClaimStatus
from huzhu.clock import business_date
from huzhu.custody.bank_client import BankConnector
from huzhu.custody.bank_models import (
    BankEntry,
    MemberNotice,
    OutgoingPayment,
    StatementImport,
    StatementLine,
    WindDown,
)
from huzhu.custody.service import Custodian, instruct_payment
from huzhu.db import UtcDateTime, unit_of_work
from huzhu.errors import InvalidInput
from huzhu.failpoints import failpoint
from huzhu.jobs import run_jobs
from huzhu.ledger.models import LedgerAccount, Transfer
from huzhu.members.models import Enrollment, EnrollmentStatus, Member
from huzhu.money import format_yuan
from huzhu.notices.models import Case, CaseStatus
from huzhu.plans.schemas import Plan
from huzhu.transparency.service import append_record

ALL = "*"
OPEN_CLAIMS = (ClaimStatus.SUBMITTED, ClaimStatus.INVESTIGATING, ClaimStatus.REVIEWING)
NOTICES = {
    "announced": "The plan {scope} is winding down: it takes no new members from {today}; claims can be filed "
                 "until {close} ({days} days); then open cases are settled and every balance is refunded "
                 "through the custodian bank.",
    "claims_closed": "The claims window of {scope} closed on {close}; open cases are being settled.",
    "refunds_instructed": "Your balance is being refunded through the custodian bank to the account you paid "
                          "in from.",
    "closed": "The wind-down of {scope} is complete: every refund was paid and the final bank statement "
              "is published.",
}


@dataclass
class WindDownReport:
    scope: str
    state: str
    claims_close_on: str
    waiting_for: str = ""
    refunds: int = 0
    refunded_fen: int = 0
    sync: SyncReport | None = None


def _plans_in(scope: str, plans: Mapping[str, Plan]) -> list[str]:
    return sorted(plans) if scope == ALL else [scope]


def _concerned(session: Session, codes: list[str]) -> list[int]:
    """Members with an enrollment (any state) in the plans."""
    return list(session.scalars(select(Enrollment.member_id).where(Enrollment.plan_code.in_(codes)).distinct()))


def _tell(session: Session, wd: WindDown, step: str, *, codes: list[str], now: datetime) -> None:
    """One notice per member concerned for this step (set-based, once)."""
    message = NOTICES[step].format(scope="all plans" if wd.scope == ALL else wd.scope, today=business_date(now),
                                   close=wd.claims_close_on, days=wd.claims_days)
    placeholders = ", ".join(f":p{i}" for i in range(len(codes)))
    session.execute(text(
        "INSERT INTO custody_member_notices (member_id, wind_down_id, step, text, created_at) "
        f"SELECT DISTINCT e.member_id, :wd, :step, :text, :now FROM enrollments e WHERE e.plan_code IN ({placeholders}) "
        "AND NOT EXISTS (SELECT 1 FROM custody_member_notices n WHERE n.member_id = e.member_id "
        "AND n.wind_down_id = :wd AND n.step = :step)").bindparams(bindparam("now", value=now, type_=UtcDateTime())),
        {"wd": wd.id, "step": step, "text": message, **{f"p{i}": c for i, c in enumerate(codes)}})


def notices_of(session: Session, member_id: int) -> list[MemberNotice]:
    return list(session.scalars(select(MemberNotice).where(MemberNotice.member_id == member_id)
                                .order_by(MemberNotice.id)))


def _announce(session: Session, *, scope: str, claims_days: int, codes: list[str], now: datetime) -> WindDown:
    wd = session.scalar(select(WindDown).where(WindDown.scope == scope))
    if wd is not None:
        return wd
    if scope != ALL and session.scalar(select(WindDown.id).where(WindDown.scope == ALL)) is not None:
        return session.scalar(select(WindDown).where(WindDown.scope == ALL))  # type: ignore[return-value]
    wd = WindDown(scope=scope, claims_days=claims_days, announced_at=now,
                  claims_close_on=business_date(now) + timedelta(days=claims_days), state="claims_open")
    session.add(wd)
    session.flush()
    append_record(session, kind="wind_down_announced", subject=scope, payload={
        "plans": codes, "claims_days": claims_days, "claims_close_on": wd.claims_close_on.isoformat(),
        "announced_on": business_date(now).isoformat()}, now=now)
    _tell(session, wd, "announced", codes=codes, now=now)
    return wd


def _open_work(session: Session, codes: list[str]) -> str:
    cases = session.scalar(select(func.count()).select_from(Case).where(
        Case.plan_code.in_(codes), Case.status.not_in((CaseStatus.PAID, CaseStatus.WITHDRAWN)))) or 0
    claims = session.scalar(select(func.count()).select_from(Claim).where(
        Claim.plan_code.in_(codes), Claim.status.in_(OPEN_CLAIMS))) or 0
    return f"{claims} undecided claims, {cases} unpaid cases" if cases or claims else ""


def _end_enrollments(session: Session, codes: list[str], *, now: datetime) -> None:
    placeholders = ", ".join(f":p{i}" for i in range(len(codes)))
    params = {"left": EnrollmentStatus.LEFT.value, "new_status": EnrollmentStatus.LEFT.value, "reason": "plan wound down",
              **{f"p{i}": c for i, c in enumerate(codes)}}
    now_param = bindparam("now", value=now, type_=UtcDateTime())
    where = f"e.plan_code IN ({placeholders}) AND e.status <> :left"
    session.execute(text(
        "INSERT INTO enrollment_events (enrollment_id, occurred_at, status, reason, coverage_anchor_on, run_id, "
        "balance_fen) SELECT e.id, :now, :new_status, :reason, e.coverage_anchor_on, NULL, "
        "a.credits_posted - a.debits_posted - a.debits_pending FROM enrollments e "
        f"JOIN ledger_accounts a ON a.id = e.ledger_account_id WHERE {where}").bindparams(now_param), params)
    session.execute(text(f"UPDATE enrollments SET status = :new_status, status_changed_at = :now "
                         f"WHERE id IN (SELECT e.id FROM enrollments e WHERE {where})").bindparams(now_param), params)
    session.expire_all()


def _stored(session: Session, wd_id: int) -> WindDown:
    wd = session.get(WindDown, wd_id)
    assert wd is not None  # wind-downs are never deleted
    return wd


def _refund_key(wd: WindDown, member_id: int) -> str:
    return f"winddown:{wd.id}:{member_id}"


def _instruct_refunds(factory: sessionmaker[Session], wd_id: int, custodian: Custodian, *, codes: list[str],
                      now: datetime, report: WindDownReport) -> None:
    with unit_of_work(factory) as session:
        wd = _stored(session, wd_id)
        _end_enrollments(session, codes, now=now)
        member_ids = _concerned(session, codes)
    for start in range(0, len(member_ids), 500):
        with unit_of_work(factory) as session:
            wd = _stored(session, wd_id)
            for member_id in member_ids[start:start + 500]:
                member = session.get(Member, member_id)
                assert member is not None
                if session.scalar(select(Enrollment.id).where(Enrollment.member_id == member_id,
                                                              Enrollment.status != EnrollmentStatus.LEFT)):
                    continue  # still in a plan that carries on: the balance stays
                account = session.get(LedgerAccount, member.ledger_account_id)
                assert account is not None
                if account.available <= 0:
                    continue
                # The account the member last paid in from (sealed: compared once opened, not in SQL).
                payer = next(filter(None, session.scalars(
                    select(BankEntry.counterparty_account).join(Transfer, Transfer.id == BankEntry.transfer_id)
                    .where(Transfer.member_id == member_id, BankEntry.kind == "deposit")
                    .order_by(BankEntry.id.desc()))), "")
                if not payer:
                    raise_exception(session, kind="refund_without_account", subject=f"member {member_id}",
                                    amount_fen=account.available,
                                    detail="the member never paid in by bank transfer: no account to refund to", now=now)
                    continue
                amount = account.available
                instruct_payment(session, custodian, kind="refund", from_account=account, amount_fen=amount,
                                 creditor_name=member.name, creditor_account=payer,
                                 remittance_info=f"huzhu wind-down refund, member {member.id}",
                                 idempotency_key=_refund_key(wd, member_id), now=now, member_id=member_id)
                report.refunds += 1
                report.refunded_fen += amount
            failpoint("wind_down.refunds.before_commit")
        failpoint("wind_down.refunds.after_commit")
    with unit_of_work(factory) as session:
        wd = _stored(session, wd_id)
        wd.refunds_instructed_at = now
        _tell(session, wd, "refunds_instructed", codes=codes, now=now)


def _refunds(session: Session, wd: WindDown):  # noqa: ANN202
    return (select(OutgoingPayment).join(Transfer, Transfer.id == OutgoingPayment.pending_transfer_id)
            .where(Transfer.idempotency_key.like(f"winddown:{wd.id}:%")))


def _try_close(session: Session, wd: WindDown, *, codes: list[str], now: datetime, report: WindDownReport) -> None:
    refunds = list(session.scalars(_refunds(session, wd)))
    unsettled = [r for r in refunds if r.status != "settled"]
    if unsettled:
        report.waiting_for = f"{len(unsettled)} refunds not yet booked by the bank"
        return
    unstated = session.scalar(select(func.count()).select_from(OutgoingPayment)
                              .join(Transfer, Transfer.id == OutgoingPayment.pending_transfer_id)
                              .join(BankEntry, and_(BankEntry.end_to_end_id == OutgoingPayment.end_to_end_id,
                                                    BankEntry.direction == "DBIT"))
                              .where(Transfer.idempotency_key.like(f"winddown:{wd.id}:%"),
                                     ~select(StatementLine.id).where(
                                         StatementLine.bank_reference == BankEntry.bank_reference,
                                         StatementLine.matched == 1).exists())) or 0
    final = session.scalar(select(StatementImport).order_by(StatementImport.seq.desc()).limit(1))
    if unstated or final is None or final.reconciled_at < (wd.refunds_instructed_at or now):
        report.waiting_for = "the bank's statement with the refunds on it"
        return
    total = sum(r_amount for r_amount in session.scalars(
        select(Transfer.amount).where(Transfer.idempotency_key.like(f"winddown:{wd.id}:%"),
                                      Transfer.pending_id.is_(None))))
    append_record(session, kind="wind_down_final_statement", subject=wd.scope, payload={
        "plans": codes, "statement_seq": final.seq, "statement_id": final.statement_id,
        "business_date": final.business_date.isoformat(), "statement_sha256": final.sha256,
        "closing_balance": format_yuan(final.closing_fen) if final.closing_fen >= 0 else "-" + format_yuan(-final.closing_fen),
        "refunds": len(refunds), "refunded": format_yuan(total)}, now=now)
    wd.state, wd.closed_at, wd.final_statement_sha256 = "closed", now, final.sha256
    _tell(session, wd, "closed", codes=codes, now=now)


def advance(factory: sessionmaker[Session], *, scope: str, claims_days: int, plans: Mapping[str, Plan],
            custodian: Custodian, connector: BankConnector | None, now: datetime,
            batch: int = OUTBOX_BATCH) -> WindDownReport:
    """Do whatever step of the wind-down of ``scope`` (a plan code or ``*``) is due now. The refunds go to
    the bank ``batch`` to a pain.001 message (each with its own EndToEndId and pain.002 status)."""
    if scope != ALL and scope not in plans:
        raise InvalidInput(BankingError.NO_SUCH_PLAN, plan=scope)
    if not getattr(custodian, "deposits_by_bank_transfer", False) or connector is None:
        raise InvalidInput(BankingError.WIND_DOWN_NEEDS_BANK)
    codes = _plans_in(scope, plans)
    with unit_of_work(factory) as session:
        wd = _announce(session, scope=scope, claims_days=claims_days, codes=codes, now=now)
        wd_id = wd.id
        if wd.state == "claims_open" and business_date(now) >= wd.claims_close_on:
            wd.state = "settling"
            append_record(session, kind="wind_down_claims_closed", subject=wd.scope,
                          payload={"plans": codes, "claims_closed_on": wd.claims_close_on.isoformat()}, now=now)
            _tell(session, wd, "claims_closed", codes=codes, now=now)
    report = WindDownReport(scope=scope, state="", claims_close_on="")
    if _state(factory, wd_id) == "settling":
        run_jobs(factory, plans=plans, custodian=custodian, now=now)
        report.sync = sync(factory, connector, now=now, plans=plans, batch=batch)
        with unit_of_work(factory) as session:
            wd = _stored(session, wd_id)
            report.waiting_for = _open_work(session, codes)
            if not report.waiting_for:
                wd.state = "refunding"
    if _state(factory, wd_id) == "refunding":
        with factory() as session:
            instructed = session.get(WindDown, wd_id).refunds_instructed_at is not None  # type: ignore[union-attr]
        if not instructed:
            _instruct_refunds(factory, wd_id, custodian, codes=codes, now=now, report=report)
        report.sync = sync(factory, connector, now=now, plans=plans, batch=batch)
        with unit_of_work(factory) as session:
            wd = _stored(session, wd_id)
            _try_close(session, wd, codes=codes, now=now, report=report)
    with factory() as session:
        wd = _stored(session, wd_id)
        report.state, report.claims_close_on = wd.state, wd.claims_close_on.isoformat()
        if wd.state == "claims_open":
            report.waiting_for = f"the claims window, open until {wd.claims_close_on}"
    return report


def _state(factory: sessionmaker[Session], wd_id: int) -> str:
    with factory() as session:
        return session.scalar(select(WindDown.state).where(WindDown.id == wd_id)) or ""
