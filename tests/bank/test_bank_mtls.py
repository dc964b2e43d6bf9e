"""The bank as a separate process over real mutual TLS, on SQLite and PostgreSQL, through the
platform's connector: money in, payments out, returns, duplicates, end of day, a kill -9 and restart."""

from __future__ import annotations

import base64
import hashlib
import io
import ssl
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import create_engine, select

from huzhu.clock import CHINA_TZ
from huzhu.custody.bank_client import (
    BankMessageMalformed,
    BankNotification,
    BankRefused,
    BankUnreachable,
    HttpBankConnector,
)
from huzhu.custody.iso20022 import (
    CAMT054,
    PAIN002,
    Camt053Reader,
    Notification,
    PaymentInstruction,
    PaymentStatusReport,
    build_pain001,
    parse_camt053,
)
from huzhu.db import normalise_url
from huzhu_bank.certs import CA, CLIENT, make_certs
from huzhu_bank.models import ReceivedInstruction
from huzhu_bank.signing import verify_note

from .conftest import ACCOUNT, BankProcess

pytestmark = pytest.mark.e2e


def _pain(message_id: str, *payments: tuple[str, int, str]) -> bytes:
    return build_pain001(
        message_id=message_id, created_at=datetime(2016, 3, 1, 9, 0, tzinfo=CHINA_TZ), debtor_name="huzhu custody",
        debtor_iban_or_account=ACCOUNT,
        payments=[PaymentInstruction(e2e, fen, "受益人", account, f"payout {e2e}", date(2016, 3, 1))
                  for e2e, fen, account in payments])


def _sandbox(bank: BankProcess, path: str, body: dict[str, object] | None = None) -> httpx.Response:
    with bank.client() as client:
        return client.post(f"/v1/sandbox/{path}", json=body if body is not None else {})


def _pull_all(connector: HttpBankConnector, after: int = 0) -> list[BankNotification]:
    pulled: list[BankNotification] = []
    while batch := connector.notifications(after, limit=3):  # small pages: the cursor is exercised
        pulled.extend(batch)
        after = batch[-1].seq
    return pulled


def _credits(notes: list[BankNotification]) -> list[tuple[str, int, str, str]]:
    out = []
    for n in notes:
        if isinstance(n.message, Notification):
            out.extend((e.direction, e.amount_fen, e.creditor_reference, e.virtual_account) for e in n.message.entries)
    return out


def _statuses(notes: list[BankNotification]) -> list[tuple[str, str, str, str]]:
    return [(n.message.group_status, t.end_to_end_id, t.status, t.reason_code)
            for n in notes if isinstance(n.message, PaymentStatusReport) for t in n.message.transactions]


def test_a_client_without_the_platform_certificate_is_refused(bank_process: BankProcess, tmp_path: Path) -> None:
    with bank_process.client(with_cert=False) as client, pytest.raises(httpx.TransportError):
        client.get("/v1/public-key")  # the handshake needs a client certificate
    other = make_certs(tmp_path / "other-ca", now=datetime.now(UTC))
    context = ssl.create_default_context(cafile=str(bank_process.certs.cert(CA)))
    context.load_cert_chain(other.cert(CLIENT), other.key(CLIENT))  # a client certificate of another CA
    with httpx.Client(base_url=bank_process.url, verify=context) as client, pytest.raises(httpx.TransportError):
        client.get("/v1/public-key")
    stranger = HttpBankConnector(bank_process.url, ca_file=str(bank_process.certs.cert(CA)),
                                 cert_file=str(other.cert(CLIENT)), key_file=str(other.key(CLIENT)))
    with stranger, pytest.raises(BankUnreachable):
        stranger.public_key()


def test_the_whole_day_through_the_connector_and_a_kill_9(bank_process: BankProcess) -> None:
    connector = bank_process.connector()
    # money in: a member's virtual account, then the member's own bank pays in
    account = connector.open_virtual_account("M00000001")
    assert (account.number, account.opened_now) == (f"{ACCOUNT}-00000001", True)
    assert connector.open_virtual_account("M00000001").opened_now is False
    paid = _sandbox(bank_process, "incoming-transfer", {"amount": "300.00", "reference": "M00000001",
                                                        "payer_name": "彭静", "payer_account": "6222000011112222333"})
    assert paid.status_code == 201 and paid.json()["known_reference"] is True
    unknown = _sandbox(bank_process, "incoming-transfer", {"amount": "0.01", "reference": "NO-SUCH-MEMBER",
                                                           "payer_name": "x", "payer_account": "6222000011119999"})
    assert unknown.status_code == 201 and unknown.json()["known_reference"] is False
    notes = _pull_all(connector)
    assert [n.seq for n in notes] == [1, 2]
    assert _credits(notes) == [("CRDT", 30_000, "M00000001", account.number), ("CRDT", 1, "NO-SUCH-MEMBER", "")]
    assert notes[0].message.entries[0].counterparty_name == "彭静"  # type: ignore[union-attr]

    # money out: one payment settles, one is rejected (AC01), one is rejected by a rule (AC04)
    _sandbox(bank_process, "reject-rules", {"creditor_account": "6222000000000000999", "reason_code": "AC04"})
    xml = _pain("HZP-1", ("PAY-OK", 10_000, "6222020000000000011"), ("PAY-AC01", 100, "12-34"),
                ("PAY-RULE", 100, "6222000000000000999"))
    receipt = connector.send_payments(xml)
    assert (receipt.status, receipt.duplicate) == ("ACCP", False)
    again = connector.send_payments(xml)  # a resend after a lost answer: booked once
    assert again.duplicate is True
    assert _sandbox(bank_process, "process").json() == {"processed": 3}
    assert _sandbox(bank_process, "process").json() == {"processed": 0}
    notes = _pull_all(connector)
    assert _statuses(notes) == [
        ("ACCP", "PAY-OK", "ACCP", ""), ("ACCP", "PAY-AC01", "ACCP", ""), ("ACCP", "PAY-RULE", "ACCP", ""),
        ("PART", "PAY-OK", "ACSC", ""), ("PART", "PAY-AC01", "RJCT", "AC01"), ("PART", "PAY-RULE", "RJCT", "AC04")]
    debits = [c for c in _credits(notes) if c[0] == "DBIT"]
    assert debits == [("DBIT", 10_000, "", "")]

    # a later return of the settled payment
    assert _sandbox(bank_process, "return", {"end_to_end_id": "PAY-OK", "reason_code": "AC04"}).status_code == 201
    assert _sandbox(bank_process, "return", {"end_to_end_id": "PAY-OK", "reason_code": "AC04"}).status_code == 200
    *_, back, report = _pull_all(connector)
    assert back.message_type == CAMT054 and report.message_type == PAIN002
    entry = back.message.entries[0]  # type: ignore[union-attr]
    assert (entry.direction, entry.end_to_end_id, entry.amount_fen, entry.return_reason) == ("CRDT", "PAY-OK", 10_000, "AC04")
    assert _statuses([report]) == [("", "PAY-OK", "RJCT", "AC04")]

    # end of day: statement and signed attestation
    closed = _sandbox(bank_process, "close-day").json()
    assert (closed["statement_seq"], closed["opening_balance"], closed["closing_balance"]) == (1, "0.00", "300.01")
    (info,) = connector.statements(0)
    xml1 = connector.statement(1)
    statement = parse_camt053(xml1)
    assert (statement.electronic_sequence_number, statement.opening_balance_fen, statement.closing_balance_fen) == (1, 0, 30_001)
    assert statement.closing_balance_fen == statement.opening_balance_fen + sum(e.signed_fen for e in statement.entries)
    assert [e.end_to_end_id for e in statement.entries] == ["NOTPROVIDED", "NOTPROVIDED", "PAY-OK", "PAY-OK"]
    assert info.sha256 == hashlib.sha256(xml1).hexdigest() == closed["sha256"]
    key = connector.public_key()
    note = connector.attestation(info.business_date)
    text = verify_note(note, key.verifier_key)
    assert f"closing-balance CNY 300.01\nstatement-sha256 {info.sha256}\n" in text
    signature = base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])[4:]
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, text.encode())

    # every instruction acted on is in the bank's log with the platform certificate's fingerprint
    client_der = x509.load_pem_x509_certificate(bank_process.certs.cert(CLIENT).read_bytes()).public_bytes(
        serialization.Encoding.DER)
    engine = create_engine(normalise_url(bank_process.database_url))
    with engine.connect() as conn:
        logged = conn.execute(select(ReceivedInstruction.kind, ReceivedInstruction.client_fingerprint)).all()
    engine.dispose()
    assert {fp for _kind, fp in logged} == {hashlib.sha256(client_der).hexdigest()}
    assert [k for k, _fp in logged].count("payments") == 2

    # kill -9 and start again on the same database: nothing lost, nothing doubled, numbering goes on
    before = [(n.seq, n.message_id, n.xml) for n in _pull_all(connector)]
    connector.close()
    bank_process.kill9()
    with pytest.raises(BankUnreachable):
        bank_process.connector().notifications(0)
    bank_process.start()
    connector = bank_process.connector()
    assert [(n.seq, n.message_id, n.xml) for n in _pull_all(connector)] == before
    assert connector.send_payments(xml).duplicate is True
    assert connector.public_key().verifier_key == key.verifier_key
    _sandbox(bank_process, "incoming-transfer", {"amount": "9.00", "reference": "M00000001",
                                                 "payer_name": "彭静", "payer_account": "6222000011112222333"})
    after = _pull_all(connector, before[-1][0])
    assert [n.seq for n in after] == [before[-1][0] + 1]
    closed2 = _sandbox(bank_process, "close-day").json()
    assert (closed2["statement_seq"], closed2["opening_balance"], closed2["closing_balance"]) == (2, "300.01", "309.01")
    assert [s.seq for s in connector.statements(0)] == [1, 2]
    reader = Camt053Reader(io.BytesIO(connector.statement(2)))
    assert [e.amount_fen for e in reader] == [900]
    assert reader.summary is not None and reader.summary.legal_sequence_number == 2
    connector.close()


def test_bad_requests_are_problems_and_change_nothing(bank_process: BankProcess) -> None:
    connector = bank_process.connector()
    connector.open_virtual_account("M1")
    before = _pull_all(connector)
    with bank_process.client() as client:
        cases = [
            client.post("/v1/sandbox/incoming-transfer", json={"amount": 9.0, "reference": "M1", "payer_name": "x",
                                                               "payer_account": "1"}),
            client.post("/v1/sandbox/incoming-transfer", json={"amount": "9.001", "reference": "M1",
                                                               "payer_name": "x", "payer_account": "1"}),
            client.post("/v1/sandbox/incoming-transfer", json={"amount": "-9.00", "reference": "M1",
                                                               "payer_name": "x", "payer_account": "1"}),
            client.post("/v1/virtual-accounts", json={"reference": "two words"}),
            client.post("/v1/payments", content=b"<Document/>", headers={"Content-Type": "application/xml"}),
            client.post("/v1/payments", content=_pain("M", ("E", 1, "6222020000000000011")),
                        headers={"Content-Type": "application/json"}),
            client.post("/v1/sandbox/return", json={"end_to_end_id": "NEVER-PAID"}),
            client.get("/v1/statements/7"),
            client.get("/v1/notifications", params={"after": -1}),
        ]
    assert [r.status_code for r in cases] == [422, 422, 422, 422, 422, 415, 404, 404, 422]
    for response in cases:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]
    assert "float" in cases[0].json()["detail"] or "string" in cases[0].json()["detail"]
    assert "at most two decimals" in cases[1].json()["detail"]
    with pytest.raises(BankRefused) as refused:
        connector.send_payments(_pain("HZP-1", ("E", 1, "6222020000000000011")).replace(b"<CtrlSum>0.01<", b"<CtrlSum>0.02<"))
    assert refused.value.status == 422 and "control sum" in str(refused.value)
    assert [n.seq for n in _pull_all(connector)] == [n.seq for n in before] == []
    connector.close()


def test_the_connector_refuses_a_broken_bank_answer(bank_process: BankProcess) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/notifications":
            return httpx.Response(200, json={"notifications": [{"seq": 1, "type": CAMT054, "message_id": "X",
                                                                "xml": "<Document/>"}]})
        return httpx.Response(200, content=b"<xml", headers={"X-Statement-SHA256": "00"})

    connector = HttpBankConnector(bank_process.url, ca_file=str(bank_process.certs.cert(CA)),
                                  cert_file=str(bank_process.certs.cert(CLIENT)),
                                  key_file=str(bank_process.certs.key(CLIENT)), transport=httpx.MockTransport(broken))
    with pytest.raises(BankMessageMalformed, match="notification 1"):
        connector.notifications(0)
    with pytest.raises(BankMessageMalformed, match="SHA-256"):
        connector.statement(1)
