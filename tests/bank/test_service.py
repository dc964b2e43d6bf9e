"""The bank's books, in-process, on SQLite and PostgreSQL: flows, refusals, numbering, end of day."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from huzhu.clock import FixedClock
from huzhu.custody.iso20022 import (
    CAMT054,
    PAIN002,
    PaymentInstruction,
    build_pain001,
    parse_camt053,
    parse_camt054,
    parse_pain002,
)
from huzhu.db import unit_of_work
from huzhu.errors import Conflict, InvalidInput, NotFound
from huzhu_bank import service
from huzhu_bank.models import BankBase, Booking, OutboxMessage, Payment, PoolAccount
from huzhu_bank.runtime import BankRuntime
from huzhu_bank.signing import NoteError, verify_note

from .conftest import ACCOUNT

FP = "f" * 64


def _pain(message_id: str, payments: list[PaymentInstruction], clock: FixedClock, account: str = ACCOUNT) -> bytes:
    return build_pain001(message_id=message_id, created_at=clock.now(), debtor_name="huzhu custody",
                         debtor_iban_or_account=account, payments=payments)


def _pay(e2e: str, fen: int, account: str = "6222020000000000011", day: date = date(2016, 3, 1)) -> PaymentInstruction:
    return PaymentInstruction(e2e, fen, "彭静家属", account, f"payout {e2e}", day)


def _counts(bank: BankRuntime) -> dict[str, int]:
    with bank.reader() as session:
        return {name: session.scalar(select(func.count()).select_from(table)) or 0
                for name, table in BankBase.metadata.tables.items()}


def _outbox(bank: BankRuntime) -> list[OutboxMessage]:
    with bank.reader() as session:
        return list(service.notifications_after(session, 0, 1000))


def _balance(bank: BankRuntime) -> int:
    with bank.reader() as session:
        return session.scalar(select(PoolAccount.balance_fen)) or 0


def _deposit(bank: BankRuntime, fen: int, reference: str = "M1", e2e: str = "NOTPROVIDED") -> Booking:
    with unit_of_work(bank.writer) as session:
        booking, _ = service.incoming_transfer(session, amount_fen=fen, reference=reference, payer_name="彭静",
                                               payer_account="6222000011112222333", end_to_end_id=e2e,
                                               now=bank.clock.now())
    return booking


def test_virtual_accounts_and_incoming_transfers(bank: BankRuntime) -> None:
    with unit_of_work(bank.writer) as session:
        first, opened = service.open_virtual_account(session, reference="M00000001", fingerprint=FP, now=bank.clock.now())
        again, opened_again = service.open_virtual_account(session, reference="M00000001", fingerprint=FP,
                                                           now=bank.clock.now())
    assert opened and not opened_again and again.number == first.number == f"{ACCOUNT}-00000001"
    _deposit(bank, 900, "M00000001")
    _deposit(bank, 300, first.number)  # paying to the virtual account number works as well
    _deposit(bank, 1, "UNKNOWN-REF")  # real money arrived: booked on the pool, reference kept
    _deposit(bank, 50, "M00000001", e2e="PAYER-1")
    _deposit(bank, 50, "M00000001", e2e="PAYER-1")  # the payer's bank repeats itself: booked once
    assert _balance(bank) == 900 + 300 + 1 + 50
    notes = [parse_camt054(m.xml.encode()) for m in _outbox(bank)]
    assert [m.seq for m in _outbox(bank)] == [1, 2, 3, 4]
    entries = [n.entries[0] for n in notes]
    assert [(e.amount_fen, e.creditor_reference, e.virtual_account) for e in entries] == [
        (900, "M00000001", first.number), (300, first.number, first.number), (1, "UNKNOWN-REF", ""),
        (50, "M00000001", first.number)]
    assert [n.sequence_number for n in notes] == [1, 2, 3, 4]
    assert entries[0].counterparty_name == "彭静" and entries[0].direction == "CRDT"
    with unit_of_work(bank.writer) as session, pytest.raises(Conflict):
        service.incoming_transfer(session, amount_fen=51, reference="M00000001", payer_name="x", payer_account="1",
                                  end_to_end_id="PAYER-1", now=bank.clock.now())


def test_bad_input_changes_nothing(bank: BankRuntime, bank_clock: FixedClock) -> None:
    _deposit(bank, 900)
    before = _counts(bank)
    bad_calls = [
        lambda s: service.open_virtual_account(s, reference="has space", fingerprint=FP, now=bank_clock.now()),
        lambda s: service.open_virtual_account(s, reference="R" * 36, fingerprint=FP, now=bank_clock.now()),
        lambda s: service.incoming_transfer(s, amount_fen=9.0, reference="M1", payer_name="x", payer_account="1",
                                            now=bank_clock.now()),
        lambda s: service.incoming_transfer(s, amount_fen=-900, reference="M1", payer_name="x", payer_account="1",
                                            now=bank_clock.now()),
        lambda s: service.receive_payments(s, xml=b"<not-xml", fingerprint=FP, now=bank_clock.now()),
        lambda s: service.receive_payments(s, xml=_pain("M-X", [_pay("E", 1)], bank_clock, account="OTHER-ACCOUNT"),
                                           fingerprint=FP, now=bank_clock.now()),
        lambda s: service.return_payment(s, end_to_end_id="NOPE", reason_code="AC04", now=bank_clock.now()),
        lambda s: service.add_reject_rule(s, creditor_account="1", reason_code="closed", now=bank_clock.now()),
    ]
    for call in bad_calls:
        with pytest.raises((InvalidInput, NotFound)), unit_of_work(bank.writer) as session:
            call(session)
    assert _counts(bank) == before


def test_payments_are_booked_rejected_and_reported(bank: BankRuntime, bank_clock: FixedClock) -> None:
    _deposit(bank, 20_000)
    xml = _pain("HZP-1", [_pay("PAY-OK", 10_000), _pay("PAY-BADACCT", 100, account="12-34"),
                          _pay("PAY-RULE", 100, account="6222000000000000999"), _pay("PAY-TOOBIG", 10_001),
                          _pay("PAY-LATER", 100, day=date(2016, 3, 2))], bank_clock)
    with unit_of_work(bank.writer) as session:
        service.add_reject_rule(session, creditor_account="6222000000000000999", reason_code="AC04", now=bank_clock.now())
        receipt = service.receive_payments(session, xml=xml, fingerprint=FP, now=bank_clock.now())
    assert (receipt.group_status, receipt.duplicate) == ("ACCP", False)
    assert {status for _e2e, status, _reason in receipt.transactions} == {"ACCP"}
    with unit_of_work(bank.writer) as session:
        assert service.process_payments(session, now=bank_clock.now()) == 4  # PAY-LATER waits for its date
    assert _balance(bank) == 20_000 - 10_000
    reports = [parse_pain002(m.xml.encode()) for m in _outbox(bank) if m.message_type == PAIN002]
    assert [r.group_status for r in reports] == ["ACCP", "PART"]
    final = {t.end_to_end_id: (t.status, t.reason_code) for t in reports[1].transactions}
    assert final == {"PAY-OK": ("ACSC", ""), "PAY-BADACCT": ("RJCT", "AC01"), "PAY-RULE": ("RJCT", "AC04"),
                     "PAY-TOOBIG": ("RJCT", "AM04")}
    debits = [parse_camt054(m.xml.encode()).entries[0] for m in _outbox(bank) if m.message_type == CAMT054][1:]
    assert [(d.direction, d.end_to_end_id, d.amount_fen, d.counterparty_account) for d in debits] == [
        ("DBIT", "PAY-OK", 10_000, "6222020000000000011")]
    # the same message again: a repeat, nothing booked twice; the same MsgId with other content: refused
    with unit_of_work(bank.writer) as session:
        repeat = service.receive_payments(session, xml=xml, fingerprint=FP, now=bank_clock.now())
    assert repeat.duplicate and dict((e, s) for e, s, _r in repeat.transactions)["PAY-OK"] == "ACSC"
    with pytest.raises(Conflict), unit_of_work(bank.writer) as session:
        service.receive_payments(session, xml=_pain("HZP-1", [_pay("PAY-OK", 10_000)], bank_clock), fingerprint=FP,
                                 now=bank_clock.now())
    # the same payment in a new message is reported, not paid again; a reused EndToEndId is DUPL
    with unit_of_work(bank.writer) as session:
        again = service.receive_payments(session, xml=_pain("HZP-2", [_pay("PAY-OK", 10_000), _pay("PAY-LATER", 7)],
                                                             bank_clock), fingerprint=FP, now=bank_clock.now())
        assert service.process_payments(session, now=bank_clock.now()) == 0
    assert again.transactions == (("PAY-OK", "ACSC", ""), ("PAY-LATER", "RJCT", "DUPL"))
    assert again.group_status == "PART"
    with bank.reader() as session:
        assert session.scalar(select(func.count()).select_from(Booking).where(Booking.kind == "payment")) == 1
        assert session.scalar(select(Payment.status).where(Payment.end_to_end_id == "PAY-LATER")) == "ACCP"


def test_a_settled_payment_comes_back(bank: BankRuntime, bank_clock: FixedClock) -> None:
    _deposit(bank, 5_000)
    with unit_of_work(bank.writer) as session:
        service.receive_payments(session, xml=_pain("HZP-9", [_pay("PAY-9", 4_000)], bank_clock), fingerprint=FP,
                                 now=bank_clock.now())
        with pytest.raises(Conflict, match="only a settled payment"):
            service.return_payment(session, end_to_end_id="PAY-9", reason_code="AC04", now=bank_clock.now())
    with unit_of_work(bank.writer) as session:
        service.process_payments(session, now=bank_clock.now())
    bank_clock.advance(timedelta(hours=2))
    with unit_of_work(bank.writer) as session:
        booking, created = service.return_payment(session, end_to_end_id="PAY-9", reason_code="AC04", now=bank_clock.now())
        same, created_again = service.return_payment(session, end_to_end_id="PAY-9", reason_code="AC04",
                                                     now=bank_clock.now())
    assert created and not created_again and same.id == booking.id
    assert _balance(bank) == 5_000
    *_, credit_msg, report_msg = _outbox(bank)
    credit = parse_camt054(credit_msg.xml.encode()).entries[0]
    assert (credit.direction, credit.end_to_end_id, credit.amount_fen, credit.return_reason) == (
        "CRDT", "PAY-9", 4_000, "AC04")
    (status,) = parse_pain002(report_msg.xml.encode()).transactions
    assert (status.status, status.reason_code, status.bank_reference) == ("RJCT", "AC04", booking.bank_reference)


def test_close_day_statements_and_signed_attestations(bank: BankRuntime, bank_clock: FixedClock) -> None:
    _deposit(bank, 10_000)
    with unit_of_work(bank.writer) as session:
        service.receive_payments(session, xml=_pain("HZP-D", [_pay("PAY-D", 2_500)], bank_clock), fingerprint=FP,
                                 now=bank_clock.now())
    bank_clock.advance(timedelta(hours=8))
    with unit_of_work(bank.writer) as session:
        day1 = service.close_day(session, key=bank.key, now=bank_clock.now())  # processes PAY-D first
    bank_clock.advance(timedelta(hours=16))
    with unit_of_work(bank.writer) as session:
        day2 = service.close_day(session, key=bank.key, now=bank_clock.now())  # nothing happened: empty statement
    _deposit(bank, 1)
    bank_clock.advance(timedelta(days=1))
    with unit_of_work(bank.writer) as session:
        day3 = service.close_day(session, key=bank.key, now=bank_clock.now())
    assert [d.business_date for d in (day1, day2, day3)] == [date(2016, 3, 1), date(2016, 3, 2), date(2016, 3, 3)]
    assert [d.statement_seq for d in (day1, day2, day3)] == [1, 2, 3]
    assert [(d.opening_fen, d.closing_fen, d.entry_count) for d in (day1, day2, day3)] == [
        (0, 7_500, 2), (7_500, 7_500, 0), (7_500, 7_501, 1)]
    with bank.reader() as session:
        records = list(service.statements_after(session, 0, 10))
        xmls = [service.statement(session, r.seq).xml.encode() for r in records]
        notes = [service.attestation(session, d.business_date).note for d in (day1, day2, day3)]
    for record, xml in zip(records, xmls, strict=True):
        statement = parse_camt053(xml)
        assert statement.electronic_sequence_number == statement.legal_sequence_number == record.seq
        assert statement.closing_balance_fen == statement.opening_balance_fen + sum(e.signed_fen for e in statement.entries)
        assert hashlib.sha256(xml).hexdigest() == record.sha256
    assert [e.end_to_end_id for e in parse_camt053(xmls[0]).entries] == ["NOTPROVIDED", "PAY-D"]
    text = verify_note(notes[2], bank.key.verifier_key)
    assert text == (f"huzhu-custodian-attestation/v1\naccount {ACCOUNT}\ndate 2016-03-03\nstatement 3\n"
                    f"closing-balance CNY 75.01\nstatement-sha256 {records[2].sha256}\n")
    # checked without the bank's code: Ed25519 over the text, key hash || signature in the last line
    signature = base64.b64decode(notes[2].rstrip("\n").rsplit(" ", 1)[1])[4:]
    Ed25519PublicKey.from_public_bytes(bank.key.public_bytes).verify(signature, text.encode())
    with pytest.raises(NoteError):
        verify_note(notes[2].replace("75.01", "75.02"), bank.key.verifier_key)
    with pytest.raises(NotFound):
        with bank.reader() as session:
            service.attestation(session, date(2016, 3, 4))


def test_concurrent_deposits_number_the_outbox_without_gaps(bank: BankRuntime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def pay(i: int) -> None:
        _deposit(bank, 100 + i, reference=f"M{i % 5}", e2e=f"PAYER-{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(pay, range(60)))
    messages = _outbox(bank)
    assert [m.seq for m in messages] == list(range(1, 61))
    assert _balance(bank) == sum(100 + i for i in range(60))
    references = sorted(parse_camt054(m.xml.encode()).entries[0].bank_reference for m in messages)
    assert references == [f"HZB{n:012d}" for n in range(1, 61)]


def test_the_bank_imports_nothing_of_the_platform_domain() -> None:
    import subprocess
    import sys

    from .conftest import REPO

    code = ("import sys, huzhu_bank.api, huzhu_bank.server, huzhu_bank.__main__; "
            "print(' '.join(sorted(m for m in sys.modules if m == 'huzhu' or m.startswith('huzhu.'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}).stdout.split()
    allowed = {"huzhu", "huzhu.clock", "huzhu.db", "huzhu.errors", "huzhu.messages", "huzhu.money", "huzhu.custody",
               "huzhu.custody.iso20022", "huzhu.custody.errors"}  # the ISO 20022 codec and its error codes
    assert set(loaded) <= allowed, sorted(set(loaded) - allowed)
