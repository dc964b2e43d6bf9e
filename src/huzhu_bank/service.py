"""The bank's books and message flows. Services only flush; the caller commits (``unit_of_work``).

Flows (each a function below):

- :func:`open_virtual_account`: the platform opens a member reference; the bank gives it a personal
  virtual sub-account number on the pool account.
- :func:`incoming_transfer` (sandbox: what a payer's bank causes): money arrives on the pool account
  with a reference; it is booked whatever the reference (real money did arrive), on the member's
  virtual sub-account when the reference or number is known, and notified by a camt.054 credit.
- :func:`receive_payments`: a pain.001 is stored once per MsgId and each payment once per
  EndToEndId, accepted for processing (ACCP), answered by a pain.002.
- :func:`process_payments`: each accepted payment due by the open business day is booked (ACSC, a
  camt.054 debit) or rejected with an ISO reason code (RJCT): AC01 invalid account number, AM03
  currency, AM04 insufficient funds, or a sandbox rule's code; one pain.002 per pain.001.
- :func:`return_payment` (sandbox): a settled payment comes back: a camt.054 credit with the return
  reason and a pain.002 RJCT for that EndToEndId naming the booking.
- :func:`close_day`: process what is due, write the day's camt.053 (gapless number, opening = last
  closing, closing = opening + credits − debits = the account's balance) and sign the attestation.

Every message for the platform goes into the outbox under a gapless sequence number.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer
from stdnum import iban as _iban

from huzhu.clock import business_date
from huzhu.custody.iso20022 import (
    CAMT054,
    NOT_PROVIDED,
    PAIN001,
    PAIN002,
    NotificationEntry,
    PaymentInitiation,
    PaymentInstruction,
    StatementEntry,
    TransactionStatus,
    build_camt053,
    build_camt054,
    build_pain002,
    parse_pain001,
)
from huzhu.errors import Conflict, InvalidInput, NotFound
from huzhu.money import format_yuan
from huzhu_bank.models import (
    AttestationRecord,
    Booking,
    Counter,
    OutboxMessage,
    Payment,
    PaymentMessage,
    PoolAccount,
    ReceivedInstruction,
    RejectRule,
    StatementRecord,
    VirtualAccount,
)
from huzhu_bank.signing import BankKey, sign_note

COUNTERS = ("outbox", "statement", "booking", "virtual_account")
ATTESTATION_HEADER = "huzhu-custodian-attestation/v1"
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,34}$")
_REASON = re.compile(r"^[A-Z0-9]{4}$")
_DIGITS = re.compile(r"^[0-9]{12,30}$")


@dataclass(frozen=True)
class BankSettings:
    """Who the bank is and where it keeps its books and key."""

    database_url: str = "sqlite:///data/bank.sqlite"
    account_number: str = "HUZHU-CUSTODY-0001"
    account_name: str = "huzhu mutual-aid custody account"
    currency: str = "CNY"
    key_path: Path = Path("data/bank-signing-ed25519.pem")
    key_name: str = "custodian.huzhu.example"
    sandbox: bool = True
    witness_logs: tuple[str, ...] = ()  # verifier keys of the public logs it witnesses (huzhu_bank.witness)


# --- the account and its counters ---------------------------------------------------------------


def open_bank(session: Session, settings: BankSettings, *, now: datetime) -> PoolAccount:
    """Create the pool account and the counters on first start; return the account."""
    account = session.scalar(select(PoolAccount).where(PoolAccount.number == settings.account_number))
    if account is None:
        if session.scalar(select(PoolAccount.id)) is not None:
            raise Conflict("this bank database belongs to another pool account")
        account = PoolAccount(number=settings.account_number, name=settings.account_name,
                              currency=settings.currency, balance_fen=0, opened_at=now,
                              open_business_date=business_date(now), last_closed_at=None)
        session.add(account)
    existing = set(session.scalars(select(Counter.name)))
    session.add_all(Counter(name=name, value=0) for name in COUNTERS if name not in existing)
    session.flush()
    return account


def _next(session: Session, name: str) -> int:
    """The next number of a gapless counter; its row stays locked until commit."""
    return session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value),
        execution_options={"synchronize_session": False},
    ).scalar_one()


def _account(session: Session, *, lock: bool = False) -> PoolAccount:
    query = select(PoolAccount).execution_options(populate_existing=True)
    account = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if account is None:
        raise RuntimeError("the bank is not opened: call open_bank first")
    return account


def log_instruction(session: Session, *, kind: str, fingerprint: str, body: bytes, outcome: str,
                    now: datetime) -> None:
    """Keep what was received, from which client certificate, and what the bank did with it."""
    session.add(ReceivedInstruction(received_at=now, kind=kind, client_fingerprint=fingerprint,
                                    body_sha256=hashlib.sha256(body).hexdigest(),
                                    body=body.decode("utf-8", errors="replace"), outcome=outcome[:200]))
    session.flush()


# --- virtual accounts ---------------------------------------------------------------------------


def _check_reference(reference: object) -> str:
    if not isinstance(reference, str) or not _REFERENCE.match(reference):
        raise InvalidInput(
            f"reference {reference!r} must be 1 to 35 letters, digits or '-' (ISO 20022 creditor reference)"
        )
    return reference


def open_virtual_account(session: Session, *, reference: str, fingerprint: str,
                         now: datetime) -> tuple[VirtualAccount, bool]:
    """The member's virtual sub-account for ``reference`` and whether it was opened now."""
    _check_reference(reference)
    existing = session.scalar(select(VirtualAccount).where(VirtualAccount.reference == reference))
    if existing is not None:
        return existing, False
    account = _account(session)
    number = f"{account.number}-{_next(session, 'virtual_account'):08d}"
    if len(number) > 34:
        raise RuntimeError("virtual account numbers no longer fit ISO 20022's 34 characters")
    virtual = VirtualAccount(account_id=account.id, reference=reference, number=number, opened_at=now,
                             client_fingerprint=fingerprint)
    session.add(virtual)
    session.flush()
    return virtual, True


# --- bookings and the outbox --------------------------------------------------------------------


def _append(session: Session, message_type: str, build: Callable[[int], tuple[str, bytes]], *,
            now: datetime) -> OutboxMessage:
    """Number the next outbox message and store what ``build(seq) -> (message_id, xml)`` made."""
    seq = _next(session, "outbox")
    message_id, xml = build(seq)
    message = OutboxMessage(seq=seq, message_type=message_type, message_id=message_id, created_at=now,
                            xml=xml.decode())
    session.add(message)
    session.flush()
    return message


def _book(
    session: Session, account: PoolAccount, *, kind: str, direction: str, amount_fen: int, end_to_end_id: str,
    idempotency_key: str | None, now: datetime, creditor_reference: str = "", virtual: VirtualAccount | None = None,
    counterparty_name: str = "", counterparty_account: str = "", remittance_info: str = "", return_reason: str = "",
) -> Booking:
    """Book money on the pool account (balance moved in SQL) and notify it with a camt.054."""
    booking = Booking(
        account_id=account.id, bank_reference=f"HZB{_next(session, 'booking'):012d}",
        idempotency_key=idempotency_key, kind=kind, direction=direction, amount_fen=amount_fen,
        end_to_end_id=end_to_end_id, creditor_reference=creditor_reference,
        virtual_account_id=virtual.id if virtual else None, counterparty_name=counterparty_name,
        counterparty_account=counterparty_account, remittance_info=remittance_info, return_reason=return_reason,
        value_date=account.open_business_date, business_date=account.open_business_date, booked_at=now,
    )
    session.add(booking)
    delta = amount_fen if direction == "CRDT" else -amount_fen
    session.execute(update(PoolAccount).where(PoolAccount.id == account.id)
                    .values(balance_fen=PoolAccount.balance_fen + delta),
                    execution_options={"synchronize_session": False})
    session.flush()
    entry = NotificationEntry(
        bank_reference=booking.bank_reference, end_to_end_id=end_to_end_id, amount_fen=amount_fen,
        direction=direction, booked_at=now, value_date=booking.value_date,  # type: ignore[arg-type]
        counterparty_name=counterparty_name, counterparty_account=counterparty_account,
        creditor_reference=creditor_reference if direction == "CRDT" else "",
        virtual_account=virtual.number if virtual else "", remittance_info=remittance_info,
        return_reason=return_reason,
    )

    def build(seq: int) -> tuple[str, bytes]:
        message_id = f"HZN{seq:012d}"
        return message_id, build_camt054(message_id=message_id, created_at=now, account_id=account.number,
                                         currency=account.currency, entries=[entry], sequence_number=seq)

    _append(session, CAMT054, build, now=now)
    return booking


def _report(session: Session, *, original: PaymentMessage, group_status: str | None, group_reason: str = "",
            statuses: Sequence[TransactionStatus], now: datetime) -> OutboxMessage:
    def build(seq: int) -> tuple[str, bytes]:
        message_id = f"HZS{seq:012d}"
        return message_id, build_pain002(
            message_id=message_id, created_at=now, original_message_id=original.msg_id,
            original_message_type=PAIN001, original_created_at=original.created_at, group_status=group_status,
            group_reason_code=group_reason, transactions=statuses)

    return _append(session, PAIN002, build, now=now)


# --- money in (sandbox: a payer's bank) ---------------------------------------------------------


def _check_text(value: object, field: str, max_len: int, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise InvalidInput(f"{field} must be text of {'1' if required else '0'} to {max_len} characters")
    return value


def incoming_transfer(
    session: Session, *, amount_fen: int, reference: str, payer_name: str, payer_account: str,
    end_to_end_id: str = NOT_PROVIDED, remittance_info: str = "", now: datetime,
) -> tuple[Booking, bool]:
    """Someone pays ``amount_fen`` into the pool account quoting ``reference``; (booking, booked now).

    ``reference`` is the member's reference or virtual account number; an unknown one is still booked
    on the pool account and notified with the reference as given. A repeated ``end_to_end_id`` (other
    than NOTPROVIDED) is the same transfer: booked once.
    """
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidInput("amount must be a positive whole number of fen")
    _check_reference(reference)
    _check_text(payer_name, "payer_name", 140)
    _check_text(payer_account, "payer_account", 34)
    _check_text(end_to_end_id, "end_to_end_id", 35)
    _check_text(remittance_info, "remittance_info", 140, required=False)
    key = None if end_to_end_id == NOT_PROVIDED else f"incoming:{end_to_end_id}"
    if key is not None:
        existing = session.scalar(select(Booking).where(Booking.idempotency_key == key))
        if existing is not None:
            if (existing.amount_fen, existing.creditor_reference) != (amount_fen, reference):
                raise Conflict(f"end-to-end id {end_to_end_id} was already used for another incoming transfer")
            return existing, False
    virtual = session.scalar(select(VirtualAccount).where(
        (VirtualAccount.reference == reference) | (VirtualAccount.number == reference)))
    account = _account(session, lock=True)
    booking = _book(session, account, kind="incoming", direction="CRDT", amount_fen=amount_fen,
                    end_to_end_id=end_to_end_id, idempotency_key=key, now=now, creditor_reference=reference,
                    virtual=virtual, counterparty_name=payer_name, counterparty_account=payer_account,
                    remittance_info=remittance_info)
    return booking, True


# --- payment instructions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """The bank's answer to a pain.001: accepted for processing, or a repeat of one it already had."""

    message_id: str
    duplicate: bool
    group_status: str
    transactions: tuple[tuple[str, str, str], ...]  # (EndToEndId, status, reason code)


def _same_payment(payment: Payment, instruction: PaymentInstruction) -> bool:
    return (payment.amount_fen, payment.currency, payment.creditor_account) == (
        instruction.amount_fen, instruction.currency, instruction.creditor_account)


def _check_debtor(initiation: PaymentInitiation, account: PoolAccount) -> None:
    for block in initiation.blocks:
        if block.debtor_account != account.number:
            raise InvalidInput(f"the debtor account {block.debtor_account!r} is not the custody account "
                               f"{account.number}: this bank only pays from it")


def receive_payments(session: Session, *, xml: bytes, fingerprint: str, now: datetime) -> Receipt:
    """Store a pain.001 (once per MsgId) and its payments (once per EndToEndId), all ACCP.

    The same MsgId with the same bytes is a repeat (answered as before, nothing new); with other
    bytes it is refused (409). A payment whose EndToEndId the bank already has, with the same amount
    and creditor account, is reported with its current status and not booked again; with different
    content it is rejected as DUPL.
    """
    initiation = parse_pain001(xml)  # refuses before anything is written
    account = _account(session)
    _check_debtor(initiation, account)
    digest = hashlib.sha256(xml).hexdigest()
    previous = session.scalar(select(PaymentMessage).where(PaymentMessage.msg_id == initiation.message_id))
    if previous is not None:
        if previous.sha256 != digest:
            raise Conflict(f"message id {initiation.message_id} was already used for another pain.001")
        return _repeat_receipt(session, previous, initiation)
    message = PaymentMessage(msg_id=initiation.message_id, sha256=digest, created_at=initiation.created_at,
                             received_at=now, client_fingerprint=fingerprint, xml=xml.decode())
    session.add(message)
    session.flush()
    known = _payments_by_e2e(session, [p.end_to_end_id for p in initiation.payments])
    statuses: list[TransactionStatus] = []
    for block in initiation.blocks:
        for p in block.payments:
            old = known.get(p.end_to_end_id)
            if old is None:
                session.add(Payment(
                    message_id=message.id, payment_info_id=block.payment_info_id, end_to_end_id=p.end_to_end_id,
                    amount_fen=p.amount_fen, currency=p.currency, creditor_name=p.creditor_name,
                    creditor_account=p.creditor_account, remittance_info=p.remittance_info,
                    requested_date=p.requested_date, status="ACCP", reason_code="", updated_at=now))
                status, reason = "ACCP", ""
            elif _same_payment(old, p):
                status, reason = old.status, old.reason_code
            else:
                status, reason = "RJCT", "DUPL"
            statuses.append(TransactionStatus(p.end_to_end_id, status, reason, amount_fen=p.amount_fen,
                                              currency=p.currency, payment_info_id=block.payment_info_id))
    session.flush()
    group = _group_status([s.status for s in statuses], initial=True)
    _report(session, original=message, group_status=group, group_reason="DUPL" if group == "RJCT" else "",
            statuses=statuses, now=now)
    return Receipt(message.msg_id, False, group, tuple((s.end_to_end_id, s.status, s.reason_code) for s in statuses))


def _payments_by_e2e(session: Session, e2es: list[str]) -> dict[str, Payment]:
    found: dict[str, Payment] = {}
    for start in range(0, len(e2es), 500):
        chunk = e2es[start : start + 500]
        found.update((p.end_to_end_id, p) for p in session.scalars(select(Payment).where(Payment.end_to_end_id.in_(chunk))))
    return found


def _repeat_receipt(session: Session, message: PaymentMessage, initiation: PaymentInitiation) -> Receipt:
    known = _payments_by_e2e(session, [p.end_to_end_id for p in initiation.payments])
    rows = []
    for p in initiation.payments:
        old = known.get(p.end_to_end_id)
        ok = old is not None and _same_payment(old, p)
        rows.append((p.end_to_end_id, old.status if ok else "RJCT", old.reason_code if ok else "DUPL"))  # type: ignore[union-attr]
    group = _group_status([status for _e2e, status, _reason in rows], initial=True)
    return Receipt(message.msg_id, True, group, tuple(rows))


def _group_status(statuses: Sequence[str], *, initial: bool) -> str:
    rejected = sum(1 for s in statuses if s == "RJCT")
    if rejected == len(statuses):
        return "RJCT"
    if rejected:
        return "PART"
    if initial:
        return "ACCP"
    return "ACSC" if all(s == "ACSC" for s in statuses) else "PART"


def creditor_account_ok(account: str) -> bool:
    """The sandbox bank's account-number check: a valid IBAN, or 12 to 30 digits (mainland accounts)."""
    compact = account.replace(" ", "")
    if compact[:2].isalpha():
        return _iban.is_valid(compact)
    return bool(_DIGITS.match(compact))


def _rejection(payment: Payment, account: PoolAccount, rules: dict[str, str], balance_fen: int) -> str:
    if payment.currency != account.currency:
        return "AM03"  # not a currency this account pays in
    if not creditor_account_ok(payment.creditor_account):
        return "AC01"  # incorrect account number
    if payment.creditor_account in rules:
        return rules[payment.creditor_account]
    if payment.amount_fen > balance_fen:
        return "AM04"  # insufficient funds
    return ""


def process_payments(session: Session, *, now: datetime) -> int:
    """Book or reject every accepted payment due by the open business day, in arrival order."""
    account = _account(session, lock=True)
    due = session.scalars(select(Payment).where(Payment.status == "ACCP",
                                                Payment.requested_date <= account.open_business_date)
                          .order_by(Payment.id)).all()
    if not due:
        return 0
    rules = {r.creditor_account: r.reason_code for r in session.scalars(select(RejectRule))}
    balance = account.balance_fen
    reports: OrderedDict[int, list[TransactionStatus]] = OrderedDict()
    for payment in due:
        reason = _rejection(payment, account, rules, balance)
        reference = ""
        if reason:
            payment.status, payment.reason_code = "RJCT", reason
        else:
            booking = _book(session, account, kind="payment", direction="DBIT", amount_fen=payment.amount_fen,
                            end_to_end_id=payment.end_to_end_id, idempotency_key=f"payment:{payment.end_to_end_id}",
                            now=now, counterparty_name=payment.creditor_name,
                            counterparty_account=payment.creditor_account,
                            remittance_info=payment.remittance_info[:140])
            balance -= payment.amount_fen
            payment.status, payment.booking_id, reference = "ACSC", booking.id, booking.bank_reference
        payment.updated_at = now
        reports.setdefault(payment.message_id, []).append(TransactionStatus(
            payment.end_to_end_id, payment.status, payment.reason_code, amount_fen=payment.amount_fen,
            currency=payment.currency, bank_reference=reference, payment_info_id=payment.payment_info_id))
    session.flush()
    for message_id, statuses in reports.items():
        original = session.get(PaymentMessage, message_id)
        assert original is not None
        group = _group_status([s.status for s in statuses], initial=False)
        _report(session, original=original, group_status=group,
                group_reason=statuses[0].reason_code if group == "RJCT" else "", statuses=statuses, now=now)
    return len(due)


def add_reject_rule(session: Session, *, creditor_account: str, reason_code: str, now: datetime) -> RejectRule:
    """Sandbox: reject every later payment to ``creditor_account`` with ``reason_code`` (e.g. AC04)."""
    _check_text(creditor_account, "creditor_account", 34)
    if not isinstance(reason_code, str) or not _REASON.match(reason_code):
        raise InvalidInput(f'reason_code {reason_code!r} is not an ISO 20022 reason code like "AC04"')
    rule = session.scalar(select(RejectRule).where(RejectRule.creditor_account == creditor_account))
    if rule is None:
        rule = RejectRule(creditor_account=creditor_account, reason_code=reason_code, created_at=now)
        session.add(rule)
    else:
        rule.reason_code = reason_code
    session.flush()
    return rule


def return_payment(session: Session, *, end_to_end_id: str, reason_code: str, now: datetime) -> tuple[Booking, bool]:
    """Sandbox: the settled payment ``end_to_end_id`` comes back (e.g. AC04 account closed)."""
    if not isinstance(reason_code, str) or not _REASON.match(reason_code):
        raise InvalidInput(f'reason_code {reason_code!r} is not an ISO 20022 reason code like "AC04"')
    payment = session.scalar(select(Payment).where(Payment.end_to_end_id == end_to_end_id))
    if payment is None:
        raise NotFound(f"the bank has no payment with end-to-end id {end_to_end_id!r}")
    if payment.return_booking_id is not None:
        booking = session.get(Booking, payment.return_booking_id)
        assert booking is not None
        return booking, False
    if payment.status != "ACSC":
        raise Conflict(f"payment {end_to_end_id} is {payment.status}: only a settled payment can come back")
    account = _account(session, lock=True)
    booking = _book(session, account, kind="return", direction="CRDT", amount_fen=payment.amount_fen,
                    end_to_end_id=end_to_end_id, idempotency_key=f"return:{end_to_end_id}", now=now,
                    counterparty_name=payment.creditor_name, counterparty_account=payment.creditor_account,
                    remittance_info=f"return of {end_to_end_id}", return_reason=reason_code)
    payment.return_booking_id, payment.updated_at = booking.id, now
    original = session.get(PaymentMessage, payment.message_id)
    assert original is not None
    status = TransactionStatus(end_to_end_id, "RJCT", reason_code, "returned after settlement",
                               amount_fen=payment.amount_fen, currency=payment.currency,
                               bank_reference=booking.bank_reference, payment_info_id=payment.payment_info_id)
    _report(session, original=original, group_status=None, statuses=[status], now=now)
    return booking, True


# --- end of day ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosedDay:
    business_date: date
    statement_seq: int
    statement_id: str
    opening_fen: int
    closing_fen: int
    entry_count: int
    sha256: str
    note: str


def attestation_text(*, account: str, currency: str, day: date, seq: int, closing_fen: int, sha256: str) -> str:
    """The signed body: what the bank vouches for at the end of ``day``."""
    return (f"{ATTESTATION_HEADER}\naccount {account}\ndate {day.isoformat()}\nstatement {seq}\n"
            f"closing-balance {currency} {format_yuan(closing_fen)}\nstatement-sha256 {sha256}\n")


def close_day(session: Session, *, key: BankKey, now: datetime) -> ClosedDay:
    """End the open business day: process due payments, write its camt.053, sign the attestation."""
    process_payments(session, now=now)
    account = _account(session, lock=True)
    day = account.open_business_date
    seq = _next(session, "statement")
    session.execute(update(Booking).where(Booking.statement_seq.is_(None)).values(statement_seq=seq),
                    execution_options={"synchronize_session": False})
    rows = session.scalars(select(Booking).where(Booking.statement_seq == seq).order_by(Booking.id)).all()
    previous = session.get(StatementRecord, seq - 1) if seq > 1 else None
    opening = previous.closing_fen if previous else 0
    closing = opening + sum(r.amount_fen if r.direction == "CRDT" else -r.amount_fen for r in rows)
    if closing != account.balance_fen:
        raise RuntimeError(f"the bank's books disagree: statement closing {closing} vs balance {account.balance_fen}")
    start = min([account.last_closed_at or account.opened_at, *(r.booked_at for r in rows)])
    end = max([now, *(r.booked_at for r in rows)])
    statement_id = f"HZ{day:%Y%m%d}S{seq:08d}"
    xml = build_camt053(
        statement_id=statement_id, created_at=now, account_id=account.number, currency=account.currency,
        opening_balance_fen=opening, from_to=(start, end), sequence_number=seq,
        entries=[StatementEntry(r.end_to_end_id, r.amount_fen, r.direction, r.booked_at,  # type: ignore[arg-type]
                                r.remittance_info, r.bank_reference) for r in rows])
    digest = hashlib.sha256(xml).hexdigest()
    session.add(StatementRecord(seq=seq, statement_id=statement_id, business_date=day, from_at=start, to_at=end,
                                opening_fen=opening, closing_fen=closing, entry_count=len(rows), sha256=digest,
                                xml=xml.decode(), created_at=now))
    note = sign_note(attestation_text(account=account.number, currency=account.currency, day=day, seq=seq,
                                      closing_fen=closing, sha256=digest), key)
    session.add(AttestationRecord(business_date=day, statement_seq=seq, note=note, created_at=now))
    account.open_business_date = max(day + timedelta(days=1), business_date(now))
    account.last_closed_at = end
    session.flush()
    return ClosedDay(day, seq, statement_id, opening, closing, len(rows), digest, note)


# --- reads --------------------------------------------------------------------------------------


def notifications_after(session: Session, after: int, limit: int) -> Sequence[OutboxMessage]:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.seq > after)
                           .order_by(OutboxMessage.seq).limit(limit)).all()


def statements_after(session: Session, after: int, limit: int) -> Sequence[StatementRecord]:
    return session.scalars(select(StatementRecord).options(defer(StatementRecord.xml))
                           .where(StatementRecord.seq > after).order_by(StatementRecord.seq).limit(limit)).all()


def statement(session: Session, seq: int) -> StatementRecord:
    record = session.get(StatementRecord, seq)
    if record is None:
        raise NotFound(f"there is no statement number {seq}")
    return record


def attestation(session: Session, day: date) -> AttestationRecord:
    record = session.get(AttestationRecord, day)
    if record is None:
        raise NotFound(f"the business day {day.isoformat()} has not been closed")
    return record
