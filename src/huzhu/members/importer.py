"""Bulk import of an existing pool (migration): members, enrollments and opening balances.

CSV header: ``name,id_number,plans,joined_on,balance`` — ``plans`` is one or more plan codes
separated by ``;``, ``joined_on`` an ISO date (kept as the joining and coverage-anchor day),
``balance`` the member's balance in yuan ("9.00"). The whole file is one transaction: any bad
row aborts the import with the first errors listed and nothing written. Rows are streamed in
chunks and written with bulk inserts; ids are reserved up front so no row is read back. The
opening balances are one import transfer (custody cash ↔ every member) posted through the
ledger's bulk API, which opens each member's balance account already credited; the transfer is
mirrored by one credit in the custodian's books.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from huzhu.clock import business_date, start_of_business_day
from huzhu.custody.models import BankTransaction
from huzhu.custody.service import end_to_end_id
from huzhu.db import bulk_insert
from huzhu.errors import Conflict, InvalidInput
from huzhu.identity import parse_resident_id
from huzhu.ledger.bulk import BulkTransfer, begin_bulk_transfer
from huzhu.ledger.models import DEBIT, MEMBER_BALANCE
from huzhu.ledger.service import custody_cash_account_id, find_transfer
from huzhu.members.errors import ImportRefusal, MemberError
from huzhu.members.models import Member
from huzhu.members.sealing import id_number_vault
from huzhu.members.service import shares_from
from huzhu.money import parse_yuan
from huzhu.plans.errors import PlanError
from huzhu.plans.rules import check_eligibility
from huzhu.plans.schemas import Plan
from huzhu.sealing.keyring import keyring_of
from huzhu_verify.pseudonyms import new_member_secret

COLUMNS = ["name", "id_number", "plans", "joined_on", "balance"]
CHUNK = 20_000
MEMBER_COLUMNS = ("id", "relationship", "name", "id_number_digest", "id_number_sealed", "id_number_masked", "birth_date", "gender", "region_code",
                  "ledger_account_id", "created_at", "verify_secret")
ENROLLMENT_COLUMNS = ("id", "member_id", "ledger_account_id", "plan_code", "status", "joined_at", "joined_on",
                      "coverage_anchor_on", "shares_from", "status_changed_at")
EVENT_COLUMNS = ("enrollment_id", "occurred_at", "status", "reason", "coverage_anchor_on")
MAX_ERRORS = 20


@dataclass
class ImportResult:
    members: int = 0
    enrollments: int = 0
    suspended: int = 0
    total_balance_fen: int = 0
    funded_members: int = 0  # members imported with a balance above zero: one credit leg each


@dataclass(frozen=True)
class _Row:
    name: str
    id_number: str
    birth_date: date
    gender: str
    region_code: str
    plans: tuple[str, ...]
    joined_on: date
    balance_fen: int


def _reserve_ids(session: Session, table: str, count: int) -> int:
    """First of ``count`` consecutive new ids for ``table``."""
    if session.get_bind().dialect.name == "postgresql":
        seq = session.scalar(text(f"SELECT pg_get_serial_sequence('{table}', 'id')"))
        session.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
        current = session.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")) or 0
        session.execute(text("SELECT setval(:seq, :value)"), {"seq": seq, "value": current + count})
        return current + 1
    # SQLite: the import holds the write lock (BEGIN IMMEDIATE), so max + 1 is ours.
    return (session.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")) or 0) + 1


def _parse(reader: Iterator[dict[str, str]], plans: Mapping[str, Plan], today: date,
           errors: list[str]) -> Iterator[_Row]:
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        try:
            resident = parse_resident_id(raw.get("id_number") or "", today=today)
            if resident.number in seen:
                raise InvalidInput(ImportRefusal.DUPLICATE_ID)
            seen.add(resident.number)
            name = (raw.get("name") or "").strip()
            if not 1 <= len(name) <= 100:
                raise InvalidInput(MemberError.NAME)
            codes = tuple(c.strip() for c in (raw.get("plans") or "").split(";") if c.strip())
            if not codes:
                raise InvalidInput(ImportRefusal.NO_PLAN)
            joined_on = date.fromisoformat((raw.get("joined_on") or "").strip())
            if joined_on > today:
                raise InvalidInput(ImportRefusal.JOINED_IN_FUTURE)
            for code in codes:
                if code not in plans:
                    raise InvalidInput(PlanError.UNKNOWN_PLAN, plan=repr(code), plans=sorted(plans))
                problems = check_eligibility(plans[code], birth_date=resident.birth_date, on=joined_on,
                                             health_answers={q.code: False for q in plans[code].eligibility.health_questions})
                if problems:
                    raise InvalidInput(MemberError.NOT_ELIGIBLE, plan=plans[code].title, reasons=[problems[0].reason])
            balance = parse_yuan(raw.get("balance") or "", field="balance", allow_zero=True)
            yield _Row(name, resident.number, resident.birth_date, resident.gender, resident.region_code, codes,
                       joined_on, balance)
        except (InvalidInput, ValueError) as exc:
            message = exc.message if isinstance(exc, InvalidInput) else str(exc)
            errors.append(f"line {line}: {message}")
            if len(errors) >= MAX_ERRORS:
                return


def _chunks(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_members(
    session: Session, *, path: Path, plans: Mapping[str, Plan], now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    key = f"import:{digest}"
    if find_transfer(session, key) is not None:
        raise Conflict(ImportRefusal.ALREADY_IMPORTED, digest=digest[:12])
    today = business_date(now)
    result = ImportResult()
    errors: list[str] = []
    cash_id = custody_cash_account_id(session, now=now, key=key)
    vault = id_number_vault(session)
    opening = begin_bulk_transfer(session, idempotency_key=key, kind="import", now=now,
                                  basis={"file_sha256": digest}, memo=f"opening balances imported from {path.name}",
                                  external_ref=end_to_end_id("IMP", key), key_is_new=True)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(ImportRefusal.COLUMNS, file=path.name, missing=missing, expected=",".join(COLUMNS))
        for chunk in _chunks(_parse(reader, plans, today, errors), CHUNK):
            if errors:
                break
            sealed = [vault.columns(r.id_number) for r in chunk]
            number_of = {s["id_number_digest"]: r.id_number for s, r in zip(sealed, chunk, strict=True)}
            existing = sorted(number_of[d] for d in session.scalars(select(Member.id_number_digest).where(
                Member.id_number_digest.in_(number_of))))
            if existing:
                errors.extend(f"ID number {n[:4]}…{n[-4:]} is already registered" for n in existing[:MAX_ERRORS])
                break
            _write_chunk(session, chunk, sealed, plans=plans, now=now, opening=opening, result=result)
            if progress:
                progress(len(chunk))
    if errors:
        raise InvalidInput(ImportRefusal.REFUSED, errors="\n".join(errors[:MAX_ERRORS]), details={"errors": errors[:MAX_ERRORS]})
    if result.total_balance_fen:
        # The custody cash shard's total moves last, just before commit (the ledger's lock order).
        opening.add_leg(cash_id, direction=DEBIT, amount=result.total_balance_fen)
        session.add(BankTransaction(end_to_end_id=opening.transfer.external_ref, direction="CRDT",
                                    amount_fen=result.total_balance_fen, booked_at=now,
                                    remittance_info=f"opening balances migrated ({result.members} members)",
                                    rejected=False))
    opening.finish(entries=result.funded_members + (1 if result.total_balance_fen else 0),
                   amount=result.total_balance_fen)
    session.expire_all()
    return result


def _write_chunk(session: Session, chunk: list[_Row], sealed: list[dict[str, str]], *, plans: Mapping[str, Plan],
                 now: datetime, opening: BulkTransfer, result: ImportResult) -> None:
    n = len(chunk)
    # The members' balance accounts, opened already credited with their opening balance.
    first_account = opening.open_credited_accounts([r.balance_fen for r in chunk], kind=MEMBER_BALANCE).start
    first_member = _reserve_ids(session, "members", n)
    keyring = keyring_of(session)  # raw rows bypass the column type: names are sealed here
    bulk_insert(session, "members", MEMBER_COLUMNS, (
        (first_member + i, "self", keyring.seal(r.name), s["id_number_digest"], s["id_number_sealed"], s["id_number_masked"],
         r.birth_date, r.gender, r.region_code, first_account + i, now,
         # Each member's verification secret is made when the member is, as the ORM does: a run must
         # never be the first to make them (its pseudonyms would then depend on when it ran).
         new_member_secret())
        for i, (r, s) in enumerate(zip(chunk, sealed, strict=True))))
    pairs = [(i, r, code) for i, r in enumerate(chunk) for code in r.plans]
    first_enrollment = _reserve_ids(session, "enrollments", len(pairs))
    enrollments, events = [], []
    for k, (i, r, code) in enumerate(pairs):
        plan = plans[code]
        status = "active" if r.balance_fen >= plan.min_balance_fen else "suspended"
        joined_at = start_of_business_day(r.joined_on)
        enrollments.append((first_enrollment + k, first_member + i, first_account + i, code, status, joined_at,
                            r.joined_on, r.joined_on, shares_from(plan, r.joined_on), now))
        # Coverage history: active from the joining day, suspended now where the balance is short.
        events.append((first_enrollment + k, joined_at, "active", "imported", r.joined_on))
        if status == "suspended":
            result.suspended += 1
            events.append((first_enrollment + k, now, "suspended", "imported below the minimum balance", r.joined_on))
    bulk_insert(session, "enrollments", ENROLLMENT_COLUMNS, enrollments)
    bulk_insert(session, "enrollment_events", EVENT_COLUMNS, events)
    result.members += n
    result.enrollments += len(enrollments)
    result.total_balance_fen += sum(r.balance_fen for r in chunk)
    result.funded_members += sum(1 for r in chunk if r.balance_fen > 0)
