"""The outbox's batched pain.001: the same rows always make the same bytes (so a resend is a repeat the
bank recognises), every payment keeps its own EndToEndId, and payments from different debtor accounts
are never put in one message."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from huzhu.banking.sync import batch_message
from huzhu.clock import CHINA_TZ
from huzhu.custody.iso20022 import PaymentInstruction, build_pain001, parse_pain001
from huzhu.errors import InvalidInput

AT = datetime(2016, 3, 1, 10, tzinfo=CHINA_TZ)


def _single(e2e: str, fen: int, *, day: date, debtor: str = "HUZHU-CUSTODY-0001") -> str:
    payment = PaymentInstruction(end_to_end_id=e2e, amount_fen=fen, creditor_name="会员", creditor_account="6222020200001234567",
                                 remittance_info="huzhu wind-down refund", requested_date=day)
    return build_pain001(message_id=e2e, created_at=AT, debtor_name="huzhu mutual-aid custody account",
                         debtor_iban_or_account=debtor, payments=[payment]).decode()


def test_a_batch_is_deterministic_and_keeps_each_end_to_end_id() -> None:
    rows = [(_single(f"REF{n}", 100 + n, day=date(2016, 3, 1 + n % 2)), AT + timedelta(minutes=n)) for n in range(3)]
    first, again = batch_message(rows), batch_message(list(rows))
    assert first == again
    message = parse_pain001(first)
    assert [p.end_to_end_id for p in message.payments] == ["REF0", "REF2", "REF1"]  # one block per date
    assert message.control_sum_fen == 303 and message.created_at == AT + timedelta(minutes=2)
    assert message.message_id.startswith("B") and len(message.message_id) == 35
    assert batch_message(rows[:2]) != first  # other rows, another message id


def test_payments_from_different_debtor_accounts_are_not_batched() -> None:
    rows = [(_single("REF1", 100, day=date(2016, 3, 1)), AT),
            (_single("REF2", 100, day=date(2016, 3, 1), debtor="HUZHU-CUSTODY-0002"), AT)]
    with pytest.raises(InvalidInput, match="different debtor accounts"):
        batch_message(rows)
