"""Shared helpers for the integration tests: staff, members, a claim taken to an approved case,
pools imported from CSV, and reading what the ledger recorded."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from huzhu.accounts import service as accounts
from huzhu.accounts.models import Account
from huzhu.casework import service as casework
from huzhu.claims import service as claims
from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.identity import make_resident_id
from huzhu.members import service as members
from huzhu.members.importer import import_members
from huzhu.members.models import Enrollment, Member
from huzhu.members.sealing import id_number_vault
from huzhu.platform import Platform

PASSWORD = "test-pass-2016"
ACCIDENT = "comprehensive-accident"
QUARK_NO1 = "quark-no1"
DRIVING = "driving-risk"

_sequence = itertools.count(1)


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ)


def unique_id_number(birth: date, *, region: str = "110101", gender: str = "F") -> str:
    """A valid resident ID, unique within the test process (sequence 0..99 and a shifted birth day)."""
    n = next(_sequence)
    return make_resident_id(region, birth, n % 100, gender)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Staff:
    investigator_id: int
    reviewer_id: int
    reviewer2_id: int
    admin_id: int


def make_staff(platform: Platform, clock: FixedClock) -> Staff:
    with platform.session() as s:
        now = clock.now()
        ids = [
            accounts.register_account(s, login=f"{role}@huzhu.test", password=PASSWORD, display_name=role,
                                     role=role.rstrip("2"), now=now).id
            for role in ("investigator", "reviewer", "reviewer2", "admin")
        ]
    return Staff(*ids)


@dataclass(frozen=True)
class Joined:
    account_id: int
    member_id: int
    ledger_account_id: int
    enrollment_ids: tuple[int, ...]


_phones = itertools.count(13900000000)


def join_member(
    platform: Platform, clock: FixedClock, *, name: str = "测试会员", birth: date = date(1985, 5, 5),
    plans: Sequence[str] = (ACCIDENT,), gender: str = "F", region: str = "110101", phone: str | None = None,
    id_number: str | None = None,
) -> Joined:
    """A new account with its own member, joined to ``plans`` (9.00 deposit each)."""
    with platform.session() as s:
        now = clock.now()
        account = accounts.register_account(s, login=phone or str(next(_phones)), password=PASSWORD,
                                           display_name=name, now=now)
        member = members.add_member(s, account_id=account.id, name=name, now=now,
                                    id_number=id_number or unique_id_number(birth, region=region, gender=gender))
        enrollment_ids = []
        for plan in plans:
            answers = {q.code: False for q in platform.plans[plan].eligibility.health_questions}
            enrollment = members.join_plan(
                s, platform.custodian, plans=platform.plans, member=member, plan_code=plan, now=now,
                idempotency_key=f"join-{member.id}-{plan}", health_answers=answers or None,
            )
            enrollment_ids.append(enrollment.id)
        return Joined(account.id, member.id, member.ledger_account_id, tuple(enrollment_ids))


def driving_facts(amount: str) -> dict[str, str]:
    """Driving-risk facts whose benefit is exactly ``amount`` yuan (100% fault, nothing insured)."""
    return {"loss": amount, "fault_share_percent": "100", "insurance_paid": "0"}


def file_and_investigate(
    platform: Platform, clock: FixedClock, staff: Staff, who: Joined, *, plan: str, benefit: str,
    incident: date, facts: dict | None = None, report_facts: dict | None = None,
    beneficiary_account: str = "6222020000000000011",
) -> int:
    """File a claim and take it through the investigation; returns the claim id (now in review)."""
    with platform.session() as s:
        actor = accounts.account_or_raise(s, who.account_id)
        claim = claims.file_claim(
            s, plans=platform.plans, actor=actor, member_id=who.member_id, plan_code=plan, benefit_code=benefit,
            incident_date=incident, now=clock.now(), beneficiary_name="受益人", beneficiary_account=beneficiary_account,
            facts=facts,
        )
        investigator = accounts.account_or_raise(s, staff.investigator_id)
        claims.start_investigation(s, actor=investigator, claim_id=claim.id, now=clock.now())
        claims.submit_report(s, actor=investigator, claim_id=claim.id, company="调查公司",
                             summary="事故属实。", confirmed_incident_date=incident, now=clock.now(),
                             facts=report_facts)
        return claim.id


def approve(platform: Platform, clock: FixedClock, staff: Staff, claim_id: int) -> int:
    """Approve a claim in review; returns the new case's id."""
    with platform.session() as s:
        reviewer = accounts.account_or_raise(s, staff.reviewer_id)
        _, case = casework.decide(s, plans=platform.plans, actor=reviewer, claim_id=claim_id, approve=True,
                                reason="符合规则", now=clock.now())
        assert case is not None
        return case.id


def approved_case(
    platform: Platform, clock: FixedClock, staff: Staff, who: Joined, *, plan: str, benefit: str, incident: date,
    facts: dict | None = None, report_facts: dict | None = None,
) -> int:
    claim_id = file_and_investigate(platform, clock, staff, who, plan=plan, benefit=benefit, incident=incident,
                                    facts=facts, report_facts=report_facts)
    return approve(platform, clock, staff, claim_id)


def write_pool(path: Path, rows: Iterable[tuple[str, str, str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "id_number", "plans", "joined_on", "balance"])
        writer.writerows(rows)
    return path


def import_pool(platform: Platform, clock: FixedClock, path: Path, balances: Sequence[str], *,
                plans: str = DRIVING, joined_on: str = "2014-06-01") -> list[int]:
    """Import one member per balance; returns their member ids in file order."""
    rows = [(f"池会员{i}", unique_id_number(date(1960, 1, 1) + timedelta(days=(37 * i) % 9000), gender="M"), plans, joined_on,
             balance) for i, balance in enumerate(balances)]
    write_pool(path, rows)
    with platform.session() as s:
        import_members(s, path=path, plans=platform.plans, now=clock.now())
    with platform.factory() as s:
        by_digest = dict(s.execute(select(Member.id_number_digest, Member.id)).all())
        vault = id_number_vault(s)
        return [by_digest[vault.digest(r[1])] for r in rows]


def available(s: Session, member_id: int) -> int:
    member = s.get(Member, member_id)
    assert member is not None
    return members.balance_of(s, member).available


def balances(s: Session) -> dict[int, int]:
    """Every member's available balance, by member id."""
    return {int(m): int(b) for m, b in s.execute(text(
        "SELECT m.id, a.credits_posted - a.debits_posted - a.debits_pending FROM members m "
        "JOIN ledger_accounts a ON a.id = m.ledger_account_id"))}


def shares_of_transfer(s: Session, transfer_id: int | None) -> dict[int, int]:
    """member id → share, read back from the ledger entries of one share transfer."""
    if transfer_id is None:
        return {}
    return {int(m): int(a) for m, a in s.execute(text(
        "SELECT m.id, e.amount FROM ledger_entries e JOIN members m ON m.ledger_account_id = e.account_id "
        "WHERE e.transfer_id = :tid AND e.direction = 1"), {"tid": transfer_id})}


def sharing_capacities(s: Session, *, plan: str, exclude: int, cap: int = 300,
                       spent: dict[int, int] | None = None) -> dict[int, int]:
    """What each sharing member of ``plan`` can pay (active enrollments, claimant excluded)."""
    spent = spent or {}
    ids = s.scalars(select(Enrollment.member_id).where(Enrollment.plan_code == plan, Enrollment.status == "active",
                                                       Enrollment.member_id != exclude)).all()
    current = balances(s)
    return {m: max(0, min(cap, current[m] - spent.get(m, 0))) for m in ids}


def count_rows(s: Session, *tables: str) -> dict[str, int]:
    return {t: int(s.scalar(text(f"SELECT COUNT(*) FROM {t}")) or 0) for t in tables}


def account(s: Session, account_id: int) -> Account:
    return accounts.account_or_raise(s, account_id)


def enrollment_status(s: Session, enrollment_id: int) -> str:
    return s.scalar(select(Enrollment.status).where(Enrollment.id == enrollment_id))  # type: ignore[return-value]


def count(s: Session, model: type) -> int:
    return int(s.scalar(select(func.count()).select_from(model)) or 0)
