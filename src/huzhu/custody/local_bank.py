"""The sandbox bank inside the platform's process, through the same message path as over HTTP.

:class:`LocalBankConnector` implements :class:`~huzhu.custody.bank_client.BankConnector` on a
:mod:`huzhu_bank` runtime with its own database: pain.001 bytes go in, camt.054/pain.002/camt.053
bytes come out and are validated and parsed exactly as the HTTP connector does. Tests and the demo
use it where starting a second process would only slow them down; nothing is shortcut.

:class:`SandboxBank` is what a payer's bank, a payee's bank or the end of a business day does to the
sandbox bank (incoming transfers, returns, reject rules, processing, closing the day), in-process
(:class:`LocalSandboxBank`) or over the bank's ``/v1/sandbox`` endpoints (:class:`HttpSandboxBank`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

from huzhu.custody.bank_client import (
    BankMessageMalformed,
    BankNotification,
    BankPublicKey,
    BankRefused,
    BankUnreachable,
    HttpBankConnector,
    PaymentReceipt,
    StatementInfo,
    VirtualAccountInfo,
    _notification,
)
from huzhu.db import unit_of_work
from huzhu.errors import DomainError
from huzhu.money import format_yuan
from huzhu_bank import service as bank
from huzhu_bank.runtime import BankRuntime
from huzhu_bank.signing import parse_verifier_key

LOCAL_FINGERPRINT = "in-process-platform"


class LocalBankConnector:
    """:class:`BankConnector` on a bank runtime in this process (its own engine and database)."""

    def __init__(self, runtime: BankRuntime) -> None:
        self.runtime = runtime
        self.down = False  # tests: the bank does not answer

    def _check_up(self) -> None:
        if self.down:
            raise BankUnreachable("the in-process bank is switched off")

    def open_virtual_account(self, reference: str) -> VirtualAccountInfo:
        self._check_up()
        now = self.runtime.clock.now()
        with _refusals(), unit_of_work(self.runtime.writer) as session:
            virtual, created = bank.open_virtual_account(session, reference=reference, fingerprint=LOCAL_FINGERPRINT,
                                                         now=now)
            bank.log_instruction(session, kind="open-virtual-account", fingerprint=LOCAL_FINGERPRINT,
                                 body=reference.encode(), outcome=f"number {virtual.number}", now=now)
            return VirtualAccountInfo(virtual.reference, virtual.number, created)

    def send_payments(self, pain001: bytes) -> PaymentReceipt:
        self._check_up()
        now = self.runtime.clock.now()
        with _refusals(), unit_of_work(self.runtime.writer) as session:
            receipt = bank.receive_payments(session, xml=pain001, fingerprint=LOCAL_FINGERPRINT, now=now)
            bank.log_instruction(session, kind="payments", fingerprint=LOCAL_FINGERPRINT, body=pain001,
                                 outcome=f"{receipt.message_id} {receipt.group_status}", now=now)
        return PaymentReceipt(receipt.message_id, receipt.duplicate, receipt.group_status, receipt.transactions)

    def notifications(self, after: int, limit: int = 100) -> list[BankNotification]:
        self._check_up()
        with self.runtime.reader() as session:
            items = [{"seq": m.seq, "type": m.message_type, "message_id": m.message_id, "xml": m.xml}
                     for m in bank.notifications_after(session, after, limit)]
        result = [_notification(item) for item in items]
        if [n.seq for n in result] != list(range(after + 1, after + 1 + len(result))):
            raise BankMessageMalformed(f"notifications after {after} have a gap")
        return result

    def statements(self, after: int, limit: int = 100) -> list[StatementInfo]:
        self._check_up()
        with self.runtime.reader() as session:
            return [StatementInfo(s.seq, s.statement_id, s.business_date, s.opening_fen, s.closing_fen,
                                  s.entry_count, s.sha256) for s in bank.statements_after(session, after, limit)]

    def statement(self, seq: int) -> bytes:
        self._check_up()
        with _refusals(), self.runtime.reader() as session:
            record = bank.statement(session, seq)
            xml, stated = record.xml.encode(), record.sha256
        if hashlib.sha256(xml).hexdigest() != stated:
            raise BankMessageMalformed(f"statement {seq}: its bytes do not match the SHA-256 the bank states")
        return xml

    def attestation(self, day: date) -> str:
        self._check_up()
        with _refusals(), self.runtime.reader() as session:
            return bank.attestation(session, day).note

    def public_key(self) -> BankPublicKey:
        self._check_up()
        name, raw = parse_verifier_key(self.runtime.key.verifier_key)
        return BankPublicKey(name, self.runtime.key.verifier_key, raw)


class _refusals:
    """Domain errors of the bank become :class:`BankRefused`, as the HTTP API's 4xx would."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, _tb: object) -> Literal[False]:
        if isinstance(exc, DomainError):
            raise BankRefused(exc.status_code, {"detail": exc.message, "type": exc.type_slug}) from exc
        return False


@dataclass(frozen=True)
class ClosedDayInfo:
    business_date: str
    statement_seq: int
    closing_balance: str
    sha256: str


class SandboxBank(Protocol):
    """The sandbox bank's levers (a real bank has none of them)."""

    def incoming_transfer(self, *, amount: str, reference: str, payer_name: str, payer_account: str,
                          end_to_end_id: str) -> dict[str, Any]: ...

    def return_payment(self, end_to_end_id: str, reason_code: str = "AC04") -> dict[str, Any]: ...

    def reject_account(self, creditor_account: str, reason_code: str = "AC04") -> None: ...

    def process(self) -> int: ...

    def close_day(self) -> ClosedDayInfo: ...


class LocalSandboxBank:
    def __init__(self, runtime: BankRuntime) -> None:
        self.runtime = runtime

    def incoming_transfer(self, *, amount: str, reference: str, payer_name: str, payer_account: str,
                          end_to_end_id: str) -> dict[str, Any]:
        from huzhu.money import parse_yuan

        with _refusals(), unit_of_work(self.runtime.writer) as session:
            booking, created = bank.incoming_transfer(
                session, amount_fen=parse_yuan(amount, field="amount"), reference=reference, payer_name=payer_name,
                payer_account=payer_account, end_to_end_id=end_to_end_id, now=self.runtime.clock.now())
            return {"bank_reference": booking.bank_reference, "amount": format_yuan(booking.amount_fen),
                    "known_reference": booking.virtual_account_id is not None, "created": created}

    def return_payment(self, end_to_end_id: str, reason_code: str = "AC04") -> dict[str, Any]:
        with _refusals(), unit_of_work(self.runtime.writer) as session:
            booking, _ = bank.return_payment(session, end_to_end_id=end_to_end_id, reason_code=reason_code,
                                             now=self.runtime.clock.now())
            return {"bank_reference": booking.bank_reference}

    def reject_account(self, creditor_account: str, reason_code: str = "AC04") -> None:
        with _refusals(), unit_of_work(self.runtime.writer) as session:
            bank.add_reject_rule(session, creditor_account=creditor_account, reason_code=reason_code,
                                 now=self.runtime.clock.now())

    def process(self) -> int:
        with unit_of_work(self.runtime.writer) as session:
            return bank.process_payments(session, now=self.runtime.clock.now())

    def close_day(self) -> ClosedDayInfo:
        with unit_of_work(self.runtime.writer) as session:
            closed = bank.close_day(session, key=self.runtime.key, now=self.runtime.clock.now())
            return ClosedDayInfo(closed.business_date.isoformat(), closed.statement_seq,
                                 format_yuan(closed.closing_fen), closed.sha256)


class HttpSandboxBank:
    """The same levers over the bank's ``/v1/sandbox`` endpoints (mutual TLS, the platform's certificate)."""

    def __init__(self, connector: HttpBankConnector) -> None:
        self.connector = connector

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.connector._json("POST", f"/v1/sandbox/{path}", json=body or {})

    def incoming_transfer(self, *, amount: str, reference: str, payer_name: str, payer_account: str,
                          end_to_end_id: str) -> dict[str, Any]:
        return self._post("incoming-transfer", {"amount": amount, "reference": reference, "payer_name": payer_name,
                                                "payer_account": payer_account, "end_to_end_id": end_to_end_id})

    def return_payment(self, end_to_end_id: str, reason_code: str = "AC04") -> dict[str, Any]:
        return self._post("return", {"end_to_end_id": end_to_end_id, "reason_code": reason_code})

    def reject_account(self, creditor_account: str, reason_code: str = "AC04") -> None:
        self._post("reject-rules", {"creditor_account": creditor_account, "reason_code": reason_code})

    def process(self) -> int:
        return int(self._post("process")["processed"])

    def close_day(self) -> ClosedDayInfo:
        body = self._post("close-day")
        return ClosedDayInfo(body["business_date"], int(body["statement_seq"]), body["closing_balance"],
                             body["sha256"])
