"""Talking with the custodian bank: references, the pain.001 outbox, the bank's notifications and its
daily statements. Each step commits on its own, so a crash (or the bank going away) leaves whole steps
and the next run continues from the stored cursors.

- :func:`open_references`: every member gets a personal reference and the bank's virtual sub-account.
- :func:`send_outbox`: queued payments go to the bank in order, many to a pain.001 (``OUTBOX_BATCH``,
  each with its own EndToEndId and pain.002 status); the first message the bank cannot take stops the
  pass (they stay queued). A resend after a crash is harmless: the same rows make the same message,
  which the bank answers as a repeat, and the bank never pays an EndToEndId twice.
- :func:`pull_notifications`: camt.054 and pain.002 messages after the cursor, one transaction each
  (the message's effects and the cursor move together). A deposit is booked from the camt.054 alone,
  once per bank entry reference; an unknown or mismatched reference goes to the exceptions queue.
  A payment is posted when the bank books it (camt.054 debit, or pain.002 ACSC), voided with the
  reason when rejected, and a payment returned after posting is reversed and queued for staff.
- :func:`import_statements`: each new camt.053, its SHA-256 checked, its lines stored and reconciled
  in set-based SQL, the result and the bank's signed attestation published as public records.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from huzhu.banking.errors import BankingError
from huzhu.banking.statement_lines import NotSimple, Totals, statement_line_batches
from huzhu.clock import business_date
from huzhu.custody.bank_client import (
    BankConnector,
    BankError,
    BankNotification,
    BankRefused,
    BankUnreachable,
    StatementInfo,
)
from huzhu.custody.bank_models import (
    BankCursor,
    BankEntry,
    CustodyException,
    MemberReference,
    OutgoingPayment,
    StatementImport,
)
from huzhu.custody.iso20022 import (
    Camt053Reader,
    Notification,
    NotificationEntry,
    PaymentStatusReport,
    build_pain001,
    parse_pain001,
)
from huzhu.custody.models import Reconciliation
from huzhu.db import UtcDateTime, affected_rows, bulk_insert, unit_of_work
from huzhu.errors import InvalidInput
from huzhu.failpoints import failpoint
from huzhu.ledger.models import CREDIT, DEBIT, Entry, Transfer
from huzhu.ledger.service import (
    Leg,
    custody_cash_account_id,
    custody_cash_balance,
    post_transfer,
    resolve_pending,
    transfer_state,
)
from huzhu.members.models import Member
from huzhu.members.service import resume_funded
from huzhu.money import format_yuan
from huzhu.plans.schemas import Plan
from huzhu.transparency.service import append_record
from huzhu_bank.signing import NoteError, verify_note

REFERENCE_PREFIX = "HZM"
LINE_CHUNK = 50_000


def reference_for(member_id: int) -> str:
    return f"{REFERENCE_PREFIX}{member_id}"


@dataclass
class SyncReport:
    references_opened: int = 0
    sent: int = 0
    notifications: int = 0
    deposits_booked: int = 0
    statements: list[str] = field(default_factory=list)
    exceptions_raised: int = 0
    error: str = ""


# --- cursors and exceptions ---------------------------------------------------------------------


def _cursor(session: Session, name: str, *, lock: bool = True) -> BankCursor:
    query = select(BankCursor).where(BankCursor.name == name).execution_options(populate_existing=True)
    cursor = session.scalar(query.with_for_update() if lock else query)
    if cursor is None:
        cursor = BankCursor(name=name, value=0)
        session.add(cursor)
        session.flush()
    return cursor


def cursor_value(session: Session, name: str) -> int:
    return session.scalar(select(BankCursor.value).where(BankCursor.name == name)) or 0


def raise_exception(session: Session, *, kind: str, subject: str, amount_fen: int = 0, detail: str = "",
                    now: datetime) -> CustodyException:
    """Put something in the exceptions queue for staff (once per kind and subject)."""
    existing = session.scalar(select(CustodyException).where(CustodyException.kind == kind,
                                                             CustodyException.subject == subject))
    if existing is not None:
        return existing
    row = CustodyException(kind=kind, subject=subject[:80], amount_fen=amount_fen, detail=detail, status="open",
                           raised_at=now)
    session.add(row)
    session.flush()
    return row


# --- references ---------------------------------------------------------------------------------


def ensure_references(session: Session) -> int:
    """Give every member without one a personal reference (set-based)."""
    result = session.execute(text(
        "INSERT INTO custody_member_references (member_id, reference) "
        f"SELECT m.id, '{REFERENCE_PREFIX}' || CAST(m.id AS TEXT) FROM members m "
        "WHERE NOT EXISTS (SELECT 1 FROM custody_member_references r WHERE r.member_id = m.id)"))
    return affected_rows(result)


def reference_of(session: Session, member_id: int) -> MemberReference | None:
    return session.scalar(select(MemberReference).where(MemberReference.member_id == member_id))


def open_reference(session: Session, connector: BankConnector, *, member_id: int, now: datetime) -> MemberReference:
    """:func:`open_reference_for` inside the caller's transaction (an API request's unit of work): if
    the bank does not answer, the caller rolls back and nothing is kept."""
    ref = reference_of(session, member_id)
    if ref is None:
        ref = MemberReference(member_id=member_id, reference=reference_for(member_id))
        session.add(ref)
        session.flush()
    if ref.virtual_account is None:
        info = connector.open_virtual_account(ref.reference)  # idempotent at the bank
        ref.virtual_account, ref.opened_at = info.number, now
        session.flush()
    return ref


def open_reference_for(factory: sessionmaker[Session], connector: BankConnector, *, member_id: int,
                       now: datetime) -> MemberReference:
    """Give one member a reference and open its virtual sub-account at the bank (idempotent: the bank
    answers an opened reference with the same number). Raises :class:`BankError` if the bank does not
    answer; the reference is then kept and the next sync opens it."""
    try:
        with unit_of_work(factory) as session:
            ref = reference_of(session, member_id)
            if ref is None:
                ref = MemberReference(member_id=member_id, reference=reference_for(member_id))
                session.add(ref)
                session.flush()
            ref_id, reference, opened = ref.id, ref.reference, ref.virtual_account is not None
    except IntegrityError:  # a concurrent request gave it first
        with factory() as session:
            ref = reference_of(session, member_id)
            assert ref is not None
            ref_id, reference, opened = ref.id, ref.reference, ref.virtual_account is not None
    if not opened:
        info = connector.open_virtual_account(reference)
        with unit_of_work(factory) as session:
            session.execute(update(MemberReference)
                            .where(MemberReference.id == ref_id, MemberReference.virtual_account.is_(None))
                            .values(virtual_account=info.number, opened_at=now))
    with factory() as session:
        stored = session.get(MemberReference, ref_id)
        assert stored is not None
        session.expunge(stored)
        return stored


def open_references(factory: sessionmaker[Session], connector: BankConnector, *, now: datetime,
                    limit: int = 1000) -> int:
    """Open at the bank the virtual sub-accounts of references that have none yet."""
    with unit_of_work(factory) as session:
        ensure_references(session)
    with factory() as session:
        todo = list(session.execute(select(MemberReference.id, MemberReference.reference)
                                    .where(MemberReference.virtual_account.is_(None))
                                    .order_by(MemberReference.id).limit(limit)))
    opened = 0
    for ref_id, reference in todo:
        info = connector.open_virtual_account(reference)  # idempotent at the bank
        with unit_of_work(factory) as session:
            session.execute(update(MemberReference).where(MemberReference.id == ref_id)
                            .values(virtual_account=info.number, opened_at=now))
        opened += 1
    return opened


# --- payments out -------------------------------------------------------------------------------


OUTBOX_BATCH = 500  # payments per pain.001 message (each keeps its own EndToEndId and pain.002 status)


def batch_message(rows: list[tuple[str, datetime]]) -> bytes:
    """One pain.001 carrying the payments of several outbox rows (each row's stored single-payment
    message, in order). The same rows always give the same bytes: the MsgId is derived from their
    EndToEndIds and the creation time is the latest row's, so a resend after a crash is a repeat."""
    initiations = [parse_pain001(xml.encode()) for xml, _ in rows]
    payments = [p for i in initiations for p in i.payments]
    first = initiations[0].blocks[0]
    if any((b.debtor_name, b.debtor_account) != (first.debtor_name, first.debtor_account)
           for i in initiations for b in i.blocks):
        raise InvalidInput(BankingError.MIXED_DEBTORS)
    digest = hashlib.sha256("\n".join(p.end_to_end_id for p in payments).encode()).hexdigest()
    return build_pain001(message_id="B" + digest[:34].upper(), created_at=max(at for _, at in rows),
                         debtor_name=first.debtor_name, debtor_iban_or_account=first.debtor_account,
                         payments=payments)


def _batches(queued: list[tuple[int, str, datetime]], size: int) -> Iterator[list[tuple[int, str, datetime]]]:
    for start in range(0, len(queued), size):
        yield queued[start:start + size]


def send_outbox(factory: sessionmaker[Session], connector: BankConnector, *, now: datetime,
                limit: int = 5000, batch: int = OUTBOX_BATCH) -> int:
    """Hand queued payments to the bank in order, up to ``batch`` per pain.001; stop at the first
    message the bank cannot take (BankUnreachable: all stay queued). A batch the bank refuses is sent
    again payment by payment, so one bad payment holds up only itself."""
    with factory() as session:
        queued = [(i, xml, at) for i, xml, at in session.execute(
            select(OutgoingPayment.id, OutgoingPayment.pain001, OutgoingPayment.queued_at)
            .where(OutgoingPayment.status == "queued").order_by(OutgoingPayment.id).limit(limit))]
    sent = 0
    for rows in _batches(queued, max(1, batch)):
        if len(rows) > 1:
            try:
                xml = batch_message([(x, at) for _, x, at in rows])
            except InvalidInput:  # e.g. the same EndToEndId twice: each on its own
                xml = b""
            if xml and _send(factory, connector, [i for i, _, _ in rows], xml, now=now, refusal=None):
                sent += len(rows)
                continue
        for payment_id, single, _ in rows:
            if _send(factory, connector, [payment_id], single.encode(), now=now, refusal="raise"):
                sent += 1
    return sent


def _send(factory: sessionmaker[Session], connector: BankConnector, ids: list[int], xml: bytes, *, now: datetime,
          refusal: str | None) -> bool:
    """Send one pain.001 for the outbox rows ``ids``; True when the bank took it. A refusal is put in
    the exceptions queue (``refusal="raise"``: a single payment) or left to the caller (a batch)."""
    try:
        connector.send_payments(xml)
    except BankUnreachable as exc:
        with unit_of_work(factory) as session:
            session.execute(update(OutgoingPayment).where(OutgoingPayment.id.in_(ids)).values(
                attempts=OutgoingPayment.attempts + 1, last_error=str(exc)[:500], updated_at=now))
        raise
    except BankRefused as exc:
        if refusal is None:
            return False
        with unit_of_work(factory) as session:
            session.execute(update(OutgoingPayment).where(OutgoingPayment.id.in_(ids)).values(
                attempts=OutgoingPayment.attempts + 1, last_error=str(exc)[:500], updated_at=now))
            for payment_id in ids:
                payment = session.get(OutgoingPayment, payment_id)
                assert payment is not None
                raise_exception(session, kind="malformed_message", subject=payment.end_to_end_id,
                                detail=f"the bank refused the pain.001: {exc}", now=now)
        return False
    with unit_of_work(factory) as session:
        session.execute(update(OutgoingPayment)
                        .where(OutgoingPayment.id.in_(ids), OutgoingPayment.status == "queued")
                        .values(status="sent", sent_at=now, attempts=OutgoingPayment.attempts + 1,
                                last_error="", updated_at=now))
        failpoint("custodian_sync.sent.before_commit")
    failpoint("custodian_sync.sent.after_commit")
    return True


def _outgoing(session: Session, end_to_end_id: str) -> OutgoingPayment | None:
    return session.scalar(select(OutgoingPayment).where(OutgoingPayment.end_to_end_id == end_to_end_id)
                          .execution_options(populate_existing=True))


def _settle(session: Session, outgoing: OutgoingPayment, *, now: datetime) -> None:
    """The bank booked the payment: post its pending transfer (once)."""
    if outgoing.status in ("settled", "returned"):
        return
    pending = session.get(Transfer, outgoing.pending_transfer_id)
    assert pending is not None
    if transfer_state(session, pending) == "pending":
        resolve_pending(session, pending=pending, post=True, now=now, memo="booked by the bank")
    outgoing.status, outgoing.updated_at = "settled", now


def _reject(session: Session, outgoing: OutgoingPayment, reason: str, *, now: datetime) -> None:
    """The bank rejected the payment before paying it: void its pending transfer with the reason."""
    if outgoing.status in ("rejected", "settled", "returned"):
        return
    pending = session.get(Transfer, outgoing.pending_transfer_id)
    assert pending is not None
    if transfer_state(session, pending) == "pending":
        resolve_pending(session, pending=pending, post=False, now=now, memo=f"rejected by the bank: {reason}")
    outgoing.status, outgoing.reason_code, outgoing.updated_at = "rejected", reason, now


def _debited_account(session: Session, transfer_id: int) -> int:
    return session.scalar(select(Entry.account_id).where(Entry.transfer_id == transfer_id,
                                                         Entry.direction == DEBIT).limit(1)) or 0


def _apply_status_report(session: Session, report: PaymentStatusReport, *, now: datetime) -> None:
    for tx in report.transactions:
        outgoing = _outgoing(session, tx.end_to_end_id)
        if outgoing is None:
            raise_exception(session, kind="unknown_reference", subject=f"pain.002:{tx.end_to_end_id}",
                            amount_fen=tx.amount_fen or 0,
                            detail=f"a status {tx.status} for a payment the platform never instructed", now=now)
        elif tx.status == "ACSC":
            _settle(session, outgoing, now=now)
        elif tx.status == "RJCT":
            _reject(session, outgoing, tx.reason_code, now=now)  # a return after ACSC comes as a camt.054 credit
        elif outgoing.status in ("queued", "sent"):
            outgoing.status, outgoing.updated_at = "accepted", now
    session.flush()


# --- money in and the bank's bookings ------------------------------------------------------------


def _member_for(session: Session, entry: NotificationEntry) -> tuple[int | None, str]:
    """The member a credit belongs to, or None and why (never a guess)."""
    quoted = entry.creditor_reference
    by_reference = session.scalar(select(MemberReference.member_id).where(
        (MemberReference.reference == quoted) | (MemberReference.virtual_account == quoted))) if quoted else None
    by_virtual = session.scalar(select(MemberReference.member_id).where(
        MemberReference.virtual_account == entry.virtual_account)) if entry.virtual_account else None
    if by_reference is not None and by_virtual is not None and by_reference != by_virtual:
        return None, (f"the quoted reference {quoted} and the virtual account {entry.virtual_account} "
                      "belong to different members")
    member_id = by_virtual if by_virtual is not None else by_reference
    if member_id is None:
        return None, f"no member has the reference or virtual account {quoted or entry.virtual_account or '(none)'}"
    return member_id, ""


def book_deposit(session: Session, *, member: Member, bank_reference: str, amount_fen: int, now: datetime,
                 plans: Mapping[str, Plan] | None = None) -> Transfer:
    """The ledger's mirror of money the bank booked for ``member`` (idempotent by the bank's reference)."""
    key = f"bank:{bank_reference}"
    cash_id = custody_cash_account_id(session, now=now, key=key)
    transfer = post_transfer(session, idempotency_key=key, kind="deposit",
                             legs=[Leg(cash_id, DEBIT, amount_fen), Leg(member.ledger_account_id, CREDIT, amount_fen)],
                             now=now, member_id=member.id, memo="bank transfer", external_ref=bank_reference)
    if plans:
        resume_funded(session, plans=plans, member=member, now=now)
    return transfer


def _apply_entry(session: Session, seq: int, entry: NotificationEntry, *, plans: Mapping[str, Plan] | None,
                 now: datetime, report: SyncReport) -> None:
    if session.scalar(select(BankEntry.id).where(BankEntry.bank_reference == entry.bank_reference)) is not None:
        return  # the same booking notified again: booked once
    row = BankEntry(bank_reference=entry.bank_reference, notification_seq=seq, direction=entry.direction,
                    kind="unknown", amount_fen=entry.amount_fen, end_to_end_id=entry.end_to_end_id,
                    reference=entry.creditor_reference or entry.virtual_account,
                    counterparty_account=entry.counterparty_account[:34], value_date=entry.value_date,
                    booking_date=business_date(entry.booked_at), booked_at=entry.booked_at, received_at=now)
    session.add(row)
    if entry.direction == "DBIT":
        outgoing = _outgoing(session, entry.end_to_end_id)
        if outgoing is None:
            raise_exception(session, kind="unknown_reference", subject=entry.bank_reference, amount_fen=entry.amount_fen,
                            detail=f"a debit {entry.end_to_end_id} the platform never instructed", now=now)
        else:
            _settle(session, outgoing, now=now)
            row.kind, row.transfer_id = "payment", outgoing.pending_transfer_id
    elif entry.return_reason:
        outgoing = _outgoing(session, entry.end_to_end_id)
        if outgoing is None or outgoing.status not in ("settled", "returned"):
            raise_exception(session, kind="unknown_reference", subject=entry.bank_reference, amount_fen=entry.amount_fen,
                            detail=f"a return of {entry.end_to_end_id} the platform had not seen paid", now=now)
        else:
            pending = session.get(Transfer, outgoing.pending_transfer_id)
            assert pending is not None
            key = f"return:{entry.bank_reference}"
            cash_id = custody_cash_account_id(session, now=now, key=key)
            reversal = post_transfer(
                session, idempotency_key=key, kind="payment_return",
                legs=[Leg(cash_id, DEBIT, entry.amount_fen),
                      Leg(_debited_account(session, pending.id), CREDIT, entry.amount_fen)],
                now=now, member_id=pending.member_id, case_id=pending.case_id,
                memo=f"returned by the payee's bank ({entry.return_reason})", external_ref=entry.bank_reference)
            outgoing.status, outgoing.reason_code, outgoing.updated_at = "returned", entry.return_reason, now
            row.kind, row.transfer_id = "return", reversal.id
            raise_exception(session, kind="returned_payment", subject=entry.end_to_end_id, amount_fen=entry.amount_fen,
                            detail=f"paid, then returned by the payee's bank with reason {entry.return_reason}; "
                                   "correct the payee and re-instruct", now=now)
            report.exceptions_raised += 1
    else:
        member_id, why = _member_for(session, entry)
        member = session.get(Member, member_id) if member_id is not None else None
        if member is None:
            raise_exception(session, kind="unknown_reference", subject=entry.bank_reference, amount_fen=entry.amount_fen,
                            detail=why, now=now)
            report.exceptions_raised += 1
        else:
            transfer = book_deposit(session, member=member, bank_reference=entry.bank_reference,
                                    amount_fen=entry.amount_fen, now=now, plans=plans)
            row.kind, row.transfer_id = "deposit", transfer.id
            report.deposits_booked += 1
    session.flush()


def _apply(session: Session, note: BankNotification, *, plans: Mapping[str, Plan] | None, now: datetime,
           report: SyncReport) -> None:
    if isinstance(note.message, Notification):
        for entry in note.message.entries:
            _apply_entry(session, note.seq, entry, plans=plans, now=now, report=report)
    else:
        _apply_status_report(session, note.message, now=now)


def pull_notifications(factory: sessionmaker[Session], connector: BankConnector, *, now: datetime,
                       plans: Mapping[str, Plan] | None = None, report: SyncReport | None = None) -> int:
    """Process the bank's messages after the stored cursor, each in its own transaction."""
    report = report or SyncReport()
    done = 0
    while True:
        with factory() as session:
            after = cursor_value(session, "notifications")
        batch = connector.notifications(after, limit=200)
        if not batch:
            return done
        for note in batch:
            with unit_of_work(factory) as session:
                cursor = _cursor(session, "notifications")
                if cursor.value >= note.seq:
                    continue  # another sync got there first
                _apply(session, note, plans=plans, now=now, report=report)
                cursor.value = note.seq
                session.flush()
                failpoint("custodian_sync.notification.before_commit")
            failpoint("custodian_sync.notification.after_commit")
            done += 1
            report.notifications += 1


# --- statements ---------------------------------------------------------------------------------


def _line_rows(seq: int, reader: Camt053Reader) -> Iterator[tuple[object, ...]]:
    for n, entry in enumerate(reader, start=1):
        yield (seq, n, entry.bank_reference or entry.end_to_end_id, entry.end_to_end_id, entry.direction,
               entry.amount_fen, business_date(entry.booked_at), 0)


def _store_lines(session: Session, seq: int, xml: bytes | Path) -> tuple[str, int, int]:
    """Stream the statement's lines into ``custody_statement_lines`` (fast reader, or the full one),
    a batch of lines per bulk insert; returns the statement's own id, opening and closing balances."""
    totals = Totals()
    try:
        for lines in statement_line_batches(xml, totals):
            bulk_insert(session, "custody_statement_lines", LINE_COLUMNS,
                        [(seq, n, ref, e2e, direction, fen, day, 0) for n, ref, e2e, direction, fen, day in lines],
                        native=True)
        assert totals.opening_fen is not None and totals.closing_fen is not None
        return totals.statement_id, totals.opening_fen, totals.closing_fen
    except NotSimple:
        session.execute(text("DELETE FROM custody_statement_lines WHERE statement_seq = :seq"), {"seq": seq})
        reader = Camt053Reader(xml if isinstance(xml, Path) else io.BytesIO(xml))
        rows = _line_rows(seq, reader)
        while chunk := list(islice(rows, LINE_CHUNK)):
            bulk_insert(session, "custody_statement_lines", LINE_COLUMNS, chunk)
        assert reader.summary is not None
        return reader.summary.statement_id, reader.summary.opening_balance_fen, reader.summary.closing_balance_fen


ANALYZE_LINES = 50_000  # statements of more lines get the lines table analysed before matching (PostgreSQL)

LINE_COLUMNS = ("statement_seq", "line_no", "bank_reference", "end_to_end_id", "direction", "amount_fen",
                "booking_date", "matched")

MATCH_SQL = """
UPDATE custody_statement_lines SET matched = 1
WHERE statement_seq = :seq AND EXISTS (
  SELECT 1 FROM custody_bank_entries b JOIN ledger_transfers t ON t.id = b.transfer_id
  WHERE b.bank_reference = custody_statement_lines.bank_reference
    AND b.direction = custody_statement_lines.direction
    AND b.amount_fen = custody_statement_lines.amount_fen
    AND t.amount = custody_statement_lines.amount_fen
    AND b.booking_date = custody_statement_lines.booking_date
    AND (t.external_ref = b.bank_reference OR t.external_ref = b.end_to_end_id)
    AND NOT EXISTS (SELECT 1 FROM ledger_transfers v WHERE v.pending_id = t.id AND v.status = 'voided'))
"""

RAISE_UNMATCHED_SQL = """
INSERT INTO custody_exceptions (kind, subject, amount_fen, detail, status, raised_at)
SELECT CASE WHEN b.id IS NULL THEN 'unmatched_line' ELSE 'amount_mismatch' END,
       'S' || CAST(l.statement_seq AS TEXT) || ':' || l.bank_reference, l.amount_fen,
       CASE WHEN b.id IS NULL THEN 'statement line ' || CAST(l.line_no AS TEXT) || ' matches no booking the platform has'
            ELSE 'statement line ' || CAST(l.line_no AS TEXT) || ' differs from the booking (amount, direction or date)'
       END, 'open', :now
FROM custody_statement_lines l LEFT JOIN custody_bank_entries b ON b.bank_reference = l.bank_reference
WHERE l.statement_seq = :seq AND l.matched = 0 AND (b.id IS NULL OR b.transfer_id IS NOT NULL)
"""


@dataclass(frozen=True)
class StatementResult:
    seq: int
    statement_id: str
    lines: int
    matched: int
    unmatched: int
    sha256: str
    duplicate: bool = False


def _sha256(xml: bytes | Path) -> str:
    if isinstance(xml, bytes):
        return hashlib.sha256(xml).hexdigest()
    digest = hashlib.sha256()
    with xml.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def reconcile_statement(session: Session, *, info: StatementInfo, xml: bytes | Path, now: datetime) -> StatementResult:
    """Store the statement's lines (streamed: a file of any size) and match each one to the ledger in
    SQL; raise the rest as exceptions."""
    digest = _sha256(xml)
    statement_id, opening, closing = _store_lines(session, info.seq, xml)
    if (statement_id, opening, closing) != (info.statement_id, info.opening_balance_fen, info.closing_balance_fen):
        raise_exception(session, kind="amount_mismatch", subject=f"statement {info.seq}",
                        detail=f"the bank lists statement {info.seq} as {info.statement_id} "
                               f"{info.opening_balance_fen}→{info.closing_balance_fen} fen, its camt.053 says "
                               f"{statement_id} {opening}→{closing}", now=now)
    if info.entries >= ANALYZE_LINES and session.connection().dialect.name == "postgresql":
        # The lines were just copied in, in this transaction: without fresh statistics the planner
        # takes the table for a few thousand rows and matches line by line through three indexes
        # (a million nested-loop probes); with them it hashes. Sees this transaction's own rows.
        session.execute(text("ANALYZE custody_statement_lines"))
    session.execute(text(MATCH_SQL), {"seq": info.seq})
    session.execute(text(RAISE_UNMATCHED_SQL).bindparams(bindparam("now", value=now, type_=UtcDateTime())),
                    {"seq": info.seq})
    lines, matched = session.execute(text(
        "SELECT COUNT(*), CAST(COALESCE(SUM(matched), 0) AS BIGINT) FROM custody_statement_lines WHERE statement_seq = :seq"),
        {"seq": info.seq}).one()
    lines, matched = int(lines), int(matched)
    ledger = custody_cash_balance(session)
    session.add(StatementImport(seq=info.seq, statement_id=statement_id, business_date=info.business_date,
                                sha256=digest, opening_fen=opening,
                                closing_fen=closing, lines=lines, matched_lines=matched,
                                unmatched_lines=lines - matched, ledger_custody_fen=ledger, reconciled_at=now))
    session.add(Reconciliation(statement_id=statement_id[:35], performed_at=now,
                               bank_closing_fen=closing, ledger_custody_fen=ledger,
                               statement_entries=lines, unmatched_entries=lines - matched,
                               matched=lines == matched and ledger == closing,
                               detail=f"camt.053 {info.seq} sha256 {digest}"))
    append_record(session, kind="custody_reconciliation", subject=statement_id, payload={
        "statement_seq": info.seq, "business_date": info.business_date.isoformat(), "statement_sha256": digest,
        "opening_balance": _signed(opening),
        "closing_balance": _signed(closing), "ledger_custody": _signed(ledger),
        "lines": lines, "matched": matched, "unmatched": lines - matched}, now=now)
    session.flush()
    return StatementResult(info.seq, statement_id, lines, matched, lines - matched, digest)


def _signed(fen: int) -> str:
    return format_yuan(fen) if fen >= 0 else "-" + format_yuan(-fen)


def publish_attestation(session: Session, *, note: str, verifier_key: str, info: StatementInfo, sha256: str,
                        now: datetime) -> bool:
    """Check the bank's signed end-of-day note and publish it (kind ``custody_attestation``)."""
    try:
        body = verify_note(note, verifier_key)
    except (NoteError, ValueError) as exc:
        raise_exception(session, kind="malformed_message", subject=f"attestation:{info.business_date}",
                        detail=f"the bank's attestation does not verify: {exc}", now=now)
        return False
    if f"statement-sha256 {sha256}\n" not in body:
        raise_exception(session, kind="amount_mismatch", subject=f"attestation:{info.business_date}",
                        detail="the bank's attestation names another statement than the one it sent", now=now)
        return False
    append_record(session, kind="custody_attestation", subject=info.business_date.isoformat(), payload={
        "business_date": info.business_date.isoformat(), "closing_balance": _signed(info.closing_balance_fen),
        "statement_sha256": sha256, "note": note, "bank_key": verifier_key}, now=now)
    return True


def import_statements(factory: sessionmaker[Session], connector: BankConnector, *, now: datetime) -> list[StatementResult]:
    """Fetch, check and reconcile every statement after the cursor; gaps and repeats are exceptions."""
    results: list[StatementResult] = []
    with factory() as session:
        after = cursor_value(session, "statements")
    infos = connector.statements(after)
    key = connector.public_key() if infos else None
    for info in infos:
        xml = connector.statement(info.seq)
        digest = hashlib.sha256(xml).hexdigest()
        note = connector.attestation(info.business_date)
        with unit_of_work(factory) as session:
            cursor = _cursor(session, "statements")
            if cursor.value >= info.seq:
                continue
            if info.seq != cursor.value + 1:
                raise_exception(session, kind="sequence_gap", subject=f"statements {cursor.value + 1}-{info.seq - 1}",
                                detail=f"the bank's statements jump from {cursor.value} to {info.seq}", now=now)
            seen = session.scalar(select(StatementImport).where(
                (StatementImport.sha256 == digest) | (StatementImport.statement_id == info.statement_id)))
            if seen is not None:
                raise_exception(session, kind="duplicate_statement", subject=f"{info.statement_id}#{info.seq}",
                                detail=f"statement {info.seq} repeats statement {seen.seq} (same id or bytes); "
                                       "its lines were not booked again", now=now)
                results.append(StatementResult(info.seq, info.statement_id, 0, 0, 0, digest, duplicate=True))
            else:
                result = reconcile_statement(session, info=info, xml=xml, now=now)
                assert key is not None
                publish_attestation(session, note=note, verifier_key=key.verifier_key, info=info, sha256=digest,
                                    now=now)
                results.append(result)
            cursor.value = info.seq
            session.flush()
            failpoint("custodian_sync.statement.before_commit")
        failpoint("custodian_sync.statement.after_commit")
    return results


def sync(factory: sessionmaker[Session], connector: BankConnector, *, now: datetime,
         plans: Mapping[str, Plan] | None = None, batch: int = OUTBOX_BATCH) -> SyncReport:
    """One full exchange with the bank; a bank that does not answer ends it early (reported, not raised)."""
    report = SyncReport()
    try:
        report.references_opened = open_references(factory, connector, now=now)
        report.sent = send_outbox(factory, connector, now=now, batch=batch)
        pull_notifications(factory, connector, now=now, plans=plans, report=report)
        report.statements = [r.statement_id for r in import_statements(factory, connector, now=now)]
    except BankError as exc:
        report.error = str(exc)
    return report


def open_exceptions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CustodyException)
                          .where(CustodyException.status != "resolved")) or 0
