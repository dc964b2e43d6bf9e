"""Members and enrollments: who may see and act for a member, joining (deposit first), money in and
out, suspension, resumption, leaving, the coverage history and ID-number keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import TypedDict, cast

from sqlalchemy import Table, and_, bindparam, exists, func, select, text, update
from sqlalchemy.orm import Session

from huzhu.accounts.models import Account, Role
from huzhu.clock import business_date, start_of_business_day
from huzhu.custody.bank_models import WindDown
from huzhu.custody.service import Custodian, deposit, instruct_payment, settle_instruction
from huzhu.db import UtcDateTime, affected_rows, is_sqlite
from huzhu.errors import (
    Conflict,
    Forbidden,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    InvalidTransition,
    NotEligible,
    NotFound,
)
from huzhu.identity.idnumber import parse_resident_id
from huzhu.identity.sealing import IdNumberVault
from huzhu.ledger.models import MEMBER_BALANCE, LedgerAccount
from huzhu.ledger.service import find_transfer, open_account
from huzhu.members.errors import MemberError
from huzhu.members.models import (
    CoverageState,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    Member,
    Relationship,
)
from huzhu.members.sealing import id_number_vault
from huzhu.messages import OneOf
from huzhu.money import format_yuan
from huzhu.plans.errors import PlanError
from huzhu.plans.rules import check_eligibility, in_force_date
from huzhu.plans.schemas import Plan

# ---------------------------------------------------------------- members


def add_member(
    session: Session, *, account_id: int | None, name: str, id_number: str, now: datetime,
    relationship: Relationship | str = Relationship.SELF,
) -> Member:
    """Register an insured person under an account; the ID number gives birth date and gender."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput(MemberError.NAME)
    if relationship not in tuple(Relationship):
        raise InvalidInput(MemberError.RELATIONSHIP, choices=OneOf(Relationship))
    relationship = Relationship(relationship)
    resident = parse_resident_id(id_number, today=business_date(now))
    sealed = id_number_vault(session).columns(resident.number)
    if session.scalar(select(Member.id).where(Member.id_number_digest == sealed["id_number_digest"])) is not None:
        raise Conflict(MemberError.ID_NUMBER_TAKEN)
    if account_id is not None and relationship == Relationship.SELF:
        has_self = session.scalar(
            select(Member.id).where(Member.account_id == account_id, Member.relationship == Relationship.SELF)
        )
        if has_self is not None:
            raise Conflict(MemberError.SELF_TAKEN)
    ledger_account = open_account(session, kind=MEMBER_BALANCE, now=now)
    member = Member(
        account_id=account_id, relationship=relationship, name=name, **sealed,
        birth_date=resident.birth_date, gender=resident.gender, region_code=resident.region_code,
        ledger_account_id=ledger_account.id, created_at=now,
    )
    session.add(member)
    session.flush()
    return member


def member_or_raise(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(MemberError.NO_SUCH_MEMBER, member=member_id)
    return member


def member_of_account(session: Session, *, member_id: int, account: Account) -> Member:
    """The member, if the account manages it (staff may act on any member)."""
    member = member_or_raise(session, member_id)
    if account.role == Role.MEMBER and member.account_id != account.id:
        raise NotFound(MemberError.NO_SUCH_MEMBER, member=member_id)
    return member


FINANCE_ROLES = (Role.ADMIN, Role.AUDITOR)


def member_for_reading(session: Session, *, actor: Account, member_id: int) -> Member:
    """Members see their own account's members (others look absent); finance staff see all."""
    if actor.role == Role.MEMBER:
        return member_of_account(session, member_id=member_id, account=actor)
    if actor.role in FINANCE_ROLES:
        return member_or_raise(session, member_id)
    raise Forbidden(MemberError.ROLE_CANNOT_SEE, role=actor.role)


def own_member(session: Session, *, actor: Account, member_id: int) -> Member:
    """Only the account that manages a member may move its money or join plans for it."""
    if actor.role != Role.MEMBER:
        raise Forbidden(MemberError.OWN_ACCOUNT_ONLY)
    return member_of_account(session, member_id=member_id, account=actor)


def own_enrollment(session: Session, *, actor: Account, enrollment_id: int, member_id: int | None = None) -> Enrollment:
    """An enrollment of one of the actor's own members (and of ``member_id`` when given)."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None or (member_id is not None and enrollment.member_id != member_id):
        raise NotFound(MemberError.NO_SUCH_ENROLLMENT, enrollment=enrollment_id)
    own_member(session, actor=actor, member_id=enrollment.member_id)
    return enrollment


def balance_of(session: Session, member: Member) -> LedgerAccount:
    account = session.get(LedgerAccount, member.ledger_account_id)
    assert account is not None
    return account


# ---------------------------------------------------------------- enrollments


def _record_event(
    session: Session, enrollment: Enrollment, *, status: EnrollmentStatus, reason: str, now: datetime, balance: int | None = None
) -> None:
    session.add(
        EnrollmentEvent(
            enrollment_id=enrollment.id, occurred_at=now, status=status, reason=reason,
            coverage_anchor_on=enrollment.coverage_anchor_on, balance_fen=balance,
        )
    )


def plan_or_raise(plans: Mapping[str, Plan], plan_code: str) -> Plan:
    plan = plans.get(plan_code)
    if plan is None:
        raise NotFound(PlanError.UNKNOWN_PLAN, plan=repr(plan_code), plans=sorted(plans))
    return plan


def shares_from(plan: Plan, anchor: date) -> date:
    """First day an enrollment shares cases: at once, or once its first benefit is in force."""
    if plan.waiting_members_share:
        return anchor
    return anchor + timedelta(days=min(b.waiting_days for b in plan.benefits))


def join_plan(
    session: Session, custodian: Custodian, *, plans: Mapping[str, Plan], member: Member, plan_code: str,
    now: datetime, idempotency_key: str, health_answers: Mapping[str, bool] | None = None,
) -> Enrollment:
    """Check eligibility, take the deposit into custody, then start the enrollment."""
    plan = plan_or_raise(plans, plan_code)
    today = business_date(now)
    live = session.scalar(
        select(Enrollment).where(
            Enrollment.member_id == member.id, Enrollment.plan_code == plan.code, Enrollment.status != EnrollmentStatus.LEFT
        )
    )
    if live is not None:
        raise Conflict(MemberError.ALREADY_JOINED, member=member.id, plan=plan.title)
    if session.scalar(select(WindDown.id).where(WindDown.scope.in_((plan.code, "*")))) is not None:
        raise Conflict(MemberError.PLAN_WINDING_DOWN, plan=plan.title)
    problems = check_eligibility(plan, birth_date=member.birth_date, on=today, health_answers=health_answers)
    if problems:
        raise NotEligible(MemberError.NOT_ELIGIBLE, plan=plan.title, reasons=[p.reason for p in problems],
                          details={"problems": [p.code for p in problems]})
    if find_transfer(session, idempotency_key) is not None:
        # A replayed deposit would enrol without paying (another plan, or a re-join after leaving).
        raise IdempotencyConflict(MemberError.DEPOSIT_KEY_USED, key=repr(idempotency_key))
    account = balance_of(session, member)
    if getattr(custodian, "deposits_by_bank_transfer", False):
        # With a custodian bank the deposit is already on the balance: paid by bank transfer quoting
        # the member's reference and booked from the bank's notification (huzhu.banking.sync).
        if account.available < plan.deposit_fen:
            raise InsufficientFunds(MemberError.OVER_BALANCE, available=format_yuan(account.available),
                                    amount=format_yuan(plan.deposit_fen))
    else:
        deposit(
            session, custodian, account=account, amount_fen=plan.deposit_fen, idempotency_key=idempotency_key,
            now=now, member_id=member.id, memo=f"deposit to join {plan.code}", key_is_new=True,
        )
    enrollment = Enrollment(
        member_id=member.id, ledger_account_id=member.ledger_account_id, plan_code=plan.code, status=EnrollmentStatus.ACTIVE,
        joined_at=now, joined_on=today,
        coverage_anchor_on=today, shares_from=shares_from(plan, today), status_changed_at=now,
        health_declaration=dict(health_answers) if health_answers else None,
    )
    session.add(enrollment)
    session.flush()
    _record_event(session, enrollment, status=EnrollmentStatus.ACTIVE, reason="joined", now=now, balance=account.available)
    session.flush()
    return enrollment


def enrollment_or_raise(session: Session, enrollment_id: int) -> Enrollment:
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound(MemberError.NO_SUCH_ENROLLMENT, enrollment=enrollment_id)
    return enrollment


def top_up(
    session: Session, custodian: Custodian, *, plans: Mapping[str, Plan], member: Member, amount_fen: int,
    now: datetime, idempotency_key: str, resumed: list[int] | None = None,
) -> LedgerAccount:
    """Add money to a member's balance; suspended enrollments it now covers resume (their ids are
    appended to ``resumed`` when given)."""
    if amount_fen <= 0:
        raise InvalidInput(MemberError.TOP_UP_ZERO)
    account = balance_of(session, member)
    # post_transfer expires the account, so its next read sees the new totals.
    deposit(session, custodian, account=account, amount_fen=amount_fen, idempotency_key=idempotency_key,
            now=now, member_id=member.id, memo="top-up")
    back = resume_funded(session, plans=plans, member=member, now=now)
    if resumed is not None:
        resumed.extend(e.id for e in back)
    return account


def resume_funded(session: Session, *, plans: Mapping[str, Plan], member: Member, now: datetime) -> list[Enrollment]:
    account = balance_of(session, member)
    resumed = []
    suspended = session.scalars(
        select(Enrollment).where(Enrollment.member_id == member.id, Enrollment.status == EnrollmentStatus.SUSPENDED)
    ).all()
    today = business_date(now)
    for enrollment in suspended:
        plan = plans.get(enrollment.plan_code)
        if plan is None or account.available < plan.min_balance_fen:
            continue
        restart = plan.restart_waiting_after_suspension_days
        suspended_days = (today - business_date(enrollment.status_changed_at)).days
        if restart is not None and suspended_days > restart:
            enrollment.coverage_anchor_on = today
            enrollment.shares_from = shares_from(plan, today)
        enrollment.status = EnrollmentStatus.ACTIVE
        enrollment.status_changed_at = now
        _record_event(session, enrollment, status=EnrollmentStatus.ACTIVE, reason="resumed after top-up", now=now,
                      balance=account.available)
        resumed.append(enrollment)
    session.flush()
    return resumed


def suspend_underfunded(
    session: Session, *, plans: Mapping[str, Plan], now: datetime, run_id: int | None = None,
    member_id: int | None = None,
) -> int:
    """Suspend, set-based, every active enrollment whose balance is under its plan's minimum, and
    record each suspension in the coverage history. One pass over the enrollments for all plans."""
    if not plans:
        return 0
    # The raw SQL below must see, and the expire_all() at the end must not discard, the caller's pending
    # changes (e.g. the run's totals set just before this call; sessions do not autoflush).
    session.flush()
    minimum = "CASE e.plan_code " + " ".join(
        f"WHEN :plan_{i} THEN :min_{i}" for i in range(len(plans))) + " END"
    params: dict[str, object] = {f"plan_{i}": p.code for i, p in enumerate(plans.values())}
    params |= {f"min_{i}": p.min_balance_fen for i, p in enumerate(plans.values())}
    params |= {"run_id": run_id, "reason": "balance below the plan minimum",
               "active": EnrollmentStatus.ACTIVE.value, "suspended": EnrollmentStatus.SUSPENDED.value}
    balance = "a.credits_posted - a.debits_posted - a.debits_pending"
    # The first balance test needs only the account row, so the database filters accounts before the join.
    params["highest_min"] = max(p.min_balance_fen for p in plans.values())
    where = (f"a.id = e.ledger_account_id AND e.status = :active AND e.plan_code IN "
             f"({', '.join(f':plan_{i}' for i in range(len(plans)))}) "
             f"AND {balance} < :highest_min AND {balance} < {minimum}")
    if member_id is not None:
        where += " AND e.member_id = :member_id"
        params["member_id"] = member_id
    now_param = bindparam("now", value=now, type_=UtcDateTime())
    if is_sqlite(session):
        # Record first, then suspend exactly the enrollments just recorded (the events after the highest
        # id before the insert; SQLite has one writer, so nothing comes between): the join over every
        # enrollment runs once, and the update goes by row id (1.1 s against 1.6 s for a second join, at
        # 100,000 suspensions among 1,000,000 enrollments).
        params["after"] = session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM enrollment_events"))
        session.execute(text(
            "INSERT INTO enrollment_events (enrollment_id, occurred_at, status, reason, coverage_anchor_on, run_id, "
            f"balance_fen) SELECT e.id, :now, :suspended, :reason, e.coverage_anchor_on, :run_id, {balance} "
            f"FROM enrollments e JOIN ledger_accounts a ON {where}"
        ).bindparams(now_param), params)
        result = session.execute(text(
            "UPDATE enrollments SET status = :suspended, status_changed_at = :now "
            "WHERE id IN (SELECT enrollment_id FROM enrollment_events WHERE id > :after)"
        ).bindparams(now_param), params)
        count = affected_rows(result)
    else:
        # One statement: suspend and record what was suspended, from the same rows.
        count = session.scalar(text(
            f"WITH suspended AS (UPDATE enrollments AS e SET status = :suspended, status_changed_at = :now "
            f"FROM ledger_accounts a WHERE {where} "
            f"RETURNING e.id, e.coverage_anchor_on, {balance} AS balance), "
            "recorded AS (INSERT INTO enrollment_events (enrollment_id, occurred_at, status, reason, "
            "coverage_anchor_on, run_id, balance_fen) SELECT id, :now, :suspended, :reason, coverage_anchor_on, "
            "CAST(:run_id AS BIGINT), balance FROM suspended RETURNING 1) SELECT COUNT(*) FROM recorded"
        ).bindparams(now_param), params) or 0
    session.expire_all()
    return count


def withdraw(
    session: Session, custodian: Custodian, *, plans: Mapping[str, Plan], member: Member, amount_fen: int,
    bank_account: str, now: datetime, idempotency_key: str, kind: str = "refund",
) -> str:
    """Pay part of a member's balance back to their bank account through the custodian."""
    if amount_fen <= 0:
        raise InvalidInput(MemberError.WITHDRAWAL_ZERO)
    _check_bank_account(bank_account)
    account = balance_of(session, member)
    # A replayed key returns the first withdrawal's state (or conflicts) even if the balance is now lower.
    if find_transfer(session, idempotency_key) is None and amount_fen > account.available:
        raise InsufficientFunds(MemberError.OVER_BALANCE, available=format_yuan(account.available),
                                amount=format_yuan(amount_fen))
    instruction = instruct_payment(
        session, custodian, kind=kind, from_account=account, amount_fen=amount_fen, creditor_name=member.name,
        creditor_account=bank_account, remittance_info=f"huzhu refund to member {member.id}",
        idempotency_key=idempotency_key, now=now, member_id=member.id,
    )
    state = settle_instruction(session, custodian, instruction, now=now)
    suspend_underfunded(session, plans=plans, now=now, member_id=member.id)
    return state


def leave_plan(
    session: Session, custodian: Custodian, *, plans: Mapping[str, Plan], enrollment: Enrollment,
    bank_account: str | None, now: datetime, idempotency_key: str,
) -> Enrollment:
    """Leave a plan at any time. Leaving the last plan refunds the whole remaining balance."""
    if enrollment.status == EnrollmentStatus.LEFT:
        raise InvalidTransition(MemberError.ALREADY_LEFT)
    member = member_or_raise(session, enrollment.member_id)
    others = session.scalar(
        select(func.count()).select_from(Enrollment).where(
            Enrollment.member_id == member.id, Enrollment.status != EnrollmentStatus.LEFT, Enrollment.id != enrollment.id
        )
    )
    account = balance_of(session, member)
    refund = account.available if not others else 0
    if refund > 0:
        if not bank_account:
            raise InvalidInput(MemberError.REFUND_ACCOUNT)
        _check_bank_account(bank_account)
    enrollment.status = EnrollmentStatus.LEFT
    enrollment.status_changed_at = now
    _record_event(session, enrollment, status=EnrollmentStatus.LEFT, reason="member left the plan", now=now, balance=account.available)
    session.flush()
    if refund > 0:
        assert bank_account is not None
        withdraw(session, custodian, plans=plans, member=member, amount_fen=refund, bank_account=bank_account,
                 now=now, idempotency_key=idempotency_key)
    return enrollment


def end_membership(session: Session, *, member: Member, reason: str, now: datetime) -> int:
    """The member has died: every live enrollment ends (they no longer share cases)."""
    account = balance_of(session, member)
    ended = 0
    for enrollment in session.scalars(
        select(Enrollment).where(Enrollment.member_id == member.id, Enrollment.status != EnrollmentStatus.LEFT)
    ):
        enrollment.status = EnrollmentStatus.LEFT
        enrollment.status_changed_at = now
        _record_event(session, enrollment, status=EnrollmentStatus.LEFT, reason=reason, now=now, balance=account.available)
        ended += 1
    session.flush()
    return ended


def _check_bank_account(bank_account: str) -> None:
    if not re.fullmatch(r"\d{12,19}", bank_account or "", re.ASCII):
        raise InvalidInput(MemberError.BANK_ACCOUNT)


def coverage_on(session: Session, enrollment: Enrollment, day: date) -> tuple[bool, date]:
    """Was the enrollment active for the whole of ``day``, and from which anchor did waiting count?

    Conservative on purpose: a suspension or a departure at any time that day, or a status
    other than active at its start, means not covered (a late top-up cannot cover an earlier accident).
    """
    day_start, day_end = start_of_business_day(day), start_of_business_day(day + timedelta(days=1))
    before = session.scalar(
        select(EnrollmentEvent)
        .where(EnrollmentEvent.enrollment_id == enrollment.id, EnrollmentEvent.occurred_at < day_start)
        .order_by(EnrollmentEvent.occurred_at.desc(), EnrollmentEvent.id.desc())
        .limit(1)
    )
    joined_that_day = enrollment.joined_on == day
    if before is None and not joined_that_day:
        return False, enrollment.coverage_anchor_on
    lapsed_that_day = session.scalar(
        select(exists().where(and_(
            EnrollmentEvent.enrollment_id == enrollment.id,
            EnrollmentEvent.occurred_at >= day_start,
            EnrollmentEvent.occurred_at < day_end,
            EnrollmentEvent.status != EnrollmentStatus.ACTIVE,
        )))
    )
    anchor = before.coverage_anchor_on if before is not None else enrollment.coverage_anchor_on
    active = (before is None or before.status == EnrollmentStatus.ACTIVE) and not lapsed_that_day
    return bool(active), anchor


class BenefitCover(TypedDict):
    code: str
    name_zh: str
    name_en: str
    in_force_from: str  # ISO date
    in_force: bool


class Coverage(TypedDict):
    state: CoverageState
    benefits: list[BenefitCover]


def coverage_status(plan: Plan, enrollment: Enrollment, *, today: date) -> Coverage:
    """What a member sees per plan: waiting until …, in force, suspended and why, left."""
    benefits: list[BenefitCover] = [
        {"code": b.code, "name_zh": b.name_zh, "name_en": b.name_en,
         "in_force_from": in_force_date(b, enrollment.coverage_anchor_on).isoformat(),
         "in_force": enrollment.status == EnrollmentStatus.ACTIVE
                     and today >= in_force_date(b, enrollment.coverage_anchor_on)}
        for b in plan.benefits
    ]
    return {"state": coverage_state(enrollment, any(b["in_force"] for b in benefits)), "benefits": benefits}


def coverage_state(enrollment: Enrollment, in_force: bool) -> CoverageState:
    """An active enrollment is in force (some benefit covers today) or waiting; otherwise its status."""
    if enrollment.status == EnrollmentStatus.ACTIVE:
        return CoverageState.IN_FORCE if in_force else CoverageState.WAITING
    return CoverageState(enrollment.status)


# ---------------------------------------------------------------- ID-number keys

REKEY_BATCH = 5_000


def rekey_members(session: Session, new_key: str, *, progress: Callable[[int], None] | None = None) -> int:
    """Reseal every member's ID number and recompute its digest under ``new_key``, in the caller's
    transaction (all or nothing); returns how many were resealed. The session's own vault holds
    the current key; a number it cannot unseal stops the rekey before anything is written."""
    if len(new_key) < 32:
        raise InvalidInput(MemberError.ID_KEY_TOO_SHORT)
    old, new = id_number_vault(session), IdNumberVault(new_key)
    if session.get_bind().dialect.name == "postgresql":
        # No member may be added under the old key while the others move to the new one.
        session.execute(text("LOCK TABLE members IN EXCLUSIVE MODE"))
    table = cast(Table, Member.__table__)
    statement = (update(table).where(table.c.id == bindparam("member_id"))
                 .values(id_number_digest=bindparam("digest"), id_number_sealed=bindparam("sealed")))
    done, last = 0, 0
    while True:
        rows = session.execute(select(table.c.id, table.c.id_number_sealed).where(table.c.id > last)
                               .order_by(table.c.id).limit(REKEY_BATCH)).all()
        if not rows:
            return done
        params = []
        for member_id, sealed in rows:
            try:
                number = old.unseal(sealed)
            except Exception as exc:  # noqa: BLE001 - InvalidTag or a malformed seal: the wrong current key
                raise InvalidInput(MemberError.ID_KEY_MISMATCH, member=member_id) from exc
            params.append({"member_id": member_id, "digest": new.digest(number), "sealed": new.seal(number)})
        session.execute(statement, params)
        done += len(rows)
        last = rows[-1][0]
        if progress:
            progress(len(rows))
