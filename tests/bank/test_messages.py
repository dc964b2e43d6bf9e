"""ISO 20022 messages of the bank flows: round trips, XSD validation and refusals, per message type."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from huzhu.custody.iso20022 import (
    CAMT053,
    CAMT054,
    PAIN001,
    PAIN002,
    Camt053Reader,
    NotificationEntry,
    PaymentInstruction,
    StatementEntry,
    TransactionStatus,
    build_camt053,
    build_camt054,
    build_pain001,
    build_pain002,
    parse_camt053,
    parse_camt054,
    parse_pain001,
    parse_pain002,
    validate,
    write_camt053,
)
from huzhu.errors import InvalidInput

CST = timezone(timedelta(hours=8))
T = datetime(2016, 3, 2, 9, 30, tzinfo=CST)
NS = {name: {"c": f"urn:iso:std:iso:20022:tech:xsd:{name}"} for name in (PAIN001, PAIN002, CAMT053, CAMT054)}


def _tamper(xml: bytes, schema: str, path: str, text: str) -> bytes:
    root = etree.fromstring(xml)
    root.xpath(path, namespaces=NS[schema])[0].text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- pain.001 read by the bank ------------------------------------------------------------------


def _payments() -> list[PaymentInstruction]:
    return [
        PaymentInstruction("PAY-CASE-1", 10_000_000, "彭静家属", "6222020000000000011", "互助事件 1 " + "x" * 200,
                           date(2016, 3, 2)),
        PaymentInstruction("REF-77", 1, "member 77", "DE89 3704 0044 0532 0130 00", "", date(2016, 3, 3)),
        PaymentInstruction("REF-78", 9_999_999_999, "member 78", "6222000011113333", "refund", date(2016, 3, 2)),
    ]


def _pain001(payments: list[PaymentInstruction] | None = None) -> bytes:
    return build_pain001(message_id="HZP-0001", created_at=T, debtor_name="huzhu custody",
                         debtor_iban_or_account="HUZHU-CUSTODY-0001", payments=payments or _payments())


def test_pain001_parse_round_trip() -> None:
    parsed = parse_pain001(_pain001())
    assert parsed.message_id == "HZP-0001"
    assert parsed.created_at == T
    assert [b.payment_info_id for b in parsed.blocks] == ["HZP-0001-20160302", "HZP-0001-20160303"]
    assert {b.debtor_account for b in parsed.blocks} == {"HUZHU-CUSTODY-0001"}
    by_id = {p.end_to_end_id: p for p in parsed.payments}
    original = {p.end_to_end_id: p for p in _payments()}
    assert by_id["PAY-CASE-1"] == original["PAY-CASE-1"]  # name, account, long remittance, date, amount
    assert by_id["REF-78"] == original["REF-78"]
    assert by_id["REF-77"].creditor_account == "DE89370400440532013000"  # written as a compact IBAN
    assert parsed.control_sum_fen == 10_000_000 + 1 + 9_999_999_999


@pytest.mark.parametrize(("path", "text", "message"), [
    ("//c:GrpHdr/c:CtrlSum", "100000100.00", "control sum"),
    ("//c:PmtInf[1]/c:CtrlSum", "1.00", "control sum"),
    ("//c:GrpHdr/c:NbOfTxs", "4", "says 4 transactions"),
    ("//c:InstdAmt", "1.001", "fen"),
    ("//c:InstdAmt", "-1.00", "does not conform"),
    ("//c:InstdAmt", "1e2", "does not conform"),
    ("//c:PmtInf[1]/c:CdtTrfTxInf[2]/c:PmtId/c:EndToEndId", "PAY-CASE-1", "twice"),
    ("//c:PmtMtd", "CHEQUE", "does not conform"),
])
def test_pain001_parse_refusals(path: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_pain001(_tamper(_pain001(), PAIN001, path, text))


def test_pain001_parse_refuses_other_messages() -> None:
    with pytest.raises(InvalidInput, match=r"pain\.001\.001\.09"):
        parse_pain001(build_pain002(message_id="S", created_at=T, original_message_id="M", group_status="ACCP"))


# --- pain.002 -----------------------------------------------------------------------------------


def test_pain002_group_and_transaction_statuses_round_trip() -> None:
    statuses = [
        TransactionStatus("PAY-CASE-1", "ACSC", amount_fen=10_000_000, bank_reference="HZB000000000007",
                          payment_info_id="HZP-0001-20160302"),
        TransactionStatus("REF-77", "RJCT", "AC01", "incorrect account number", amount_fen=1,
                          payment_info_id="HZP-0001-20160303"),
        TransactionStatus("REF-78", "RJCT", "AM04", amount_fen=9_999_999_999, payment_info_id="HZP-0001-20160302"),
    ]
    xml = build_pain002(message_id="HZS000000000003", created_at=T, original_message_id="HZP-0001",
                        original_created_at=T - timedelta(hours=1), group_status="PART", transactions=statuses)
    root = validate(xml, PAIN002)
    assert root.xpath("//c:OrgnlMsgNmId/text()", namespaces=NS[PAIN002]) == ["pain.001.001.09"]
    assert root.xpath("//c:OrgnlTxRef/c:Amt/c:InstdAmt/text()", namespaces=NS[PAIN002]) == [
        "100000.00", "99999999.99", "0.01"]  # grouped by block, in order of first appearance
    report = parse_pain002(xml)
    assert (report.message_id, report.original_message_id, report.group_status) == ("HZS000000000003", "HZP-0001", "PART")
    assert sorted(report.transactions, key=lambda t: t.end_to_end_id) == sorted(statuses, key=lambda t: t.end_to_end_id)


def test_pain002_accepted_and_later_return() -> None:
    accepted = parse_pain002(build_pain002(message_id="S1", created_at=T, original_message_id="M1", group_status="ACCP",
                                           transactions=[TransactionStatus("E1", "ACCP", amount_fen=900)]))
    assert accepted.group_status == "ACCP"
    assert accepted.transactions[0].status == "ACCP"
    returned = parse_pain002(build_pain002(
        message_id="S2", created_at=T, original_message_id="M1", group_status=None,
        transactions=[TransactionStatus("E1", "RJCT", "AC04", "returned after settlement", amount_fen=900,
                                        bank_reference="HZB000000000009")]))
    assert returned.group_status == ""
    (t,) = returned.transactions
    assert (t.status, t.reason_code, t.bank_reference, t.amount_fen) == ("RJCT", "AC04", "HZB000000000009", 900)


def test_pain002_refusals() -> None:
    with pytest.raises(InvalidInput, match="reason code"):
        TransactionStatus("E1", "RJCT")
    with pytest.raises(InvalidInput, match="not one of"):
        TransactionStatus("E1", "DONE")
    with pytest.raises(InvalidInput, match="integer"):
        TransactionStatus("E1", "ACSC", amount_fen=9.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="greater than zero"):
        TransactionStatus("E1", "ACSC", amount_fen=-100)
    with pytest.raises(InvalidInput, match="currency"):
        TransactionStatus("E1", "ACSC", amount_fen=1, currency="yuan")
    with pytest.raises(InvalidInput, match="group status or at least one"):
        build_pain002(message_id="S", created_at=T, original_message_id="M", group_status=None)
    good = build_pain002(message_id="S", created_at=T, original_message_id="M", group_status="ACSC",
                         transactions=[TransactionStatus("E1", "ACSC", amount_fen=150)])
    with pytest.raises(InvalidInput, match="fen"):
        parse_pain002(_tamper(good, PAIN002, "//c:InstdAmt", "1.505"))
    with pytest.raises(InvalidInput, match="not one of"):
        parse_pain002(_tamper(good, PAIN002, "//c:TxSts", "XXXX"))
    with pytest.raises(InvalidInput, match="does not conform"):
        parse_pain002(_tamper(good, PAIN002, "//c:TxSts", "SETTLED"))  # longer than 4 characters


# --- camt.054 -----------------------------------------------------------------------------------


def _credit(**changes: object) -> NotificationEntry:
    values: dict[str, object] = dict(
        bank_reference="HZB000000000001", end_to_end_id="NOTPROVIDED", amount_fen=900, direction="CRDT",
        booked_at=T, value_date=date(2016, 3, 2), counterparty_name="彭静", counterparty_account="6222000011112222333",
        creditor_reference="M00000123", virtual_account="HUZHU-CUSTODY-0001-00000001", remittance_info="join deposit")
    values.update(changes)
    return NotificationEntry(**values)  # type: ignore[arg-type]


def _camt054(entries: list[NotificationEntry]) -> bytes:
    return build_camt054(message_id="HZN000000000001", created_at=T, account_id="HUZHU-CUSTODY-0001",
                         entries=entries, sequence_number=1)


def test_camt054_credit_with_creditor_reference_round_trip() -> None:
    entries = [
        _credit(),
        _credit(bank_reference="HZB000000000002", virtual_account="", creditor_reference="NOBODY-42",
                end_to_end_id="PAYER-E2E-9", amount_fen=1),  # an unknown reference: still money on the pool
        _credit(bank_reference="HZB000000000003", direction="DBIT", end_to_end_id="PAY-CASE-1", amount_fen=10_000_000,
                counterparty_name="彭静家属", counterparty_account="6222020000000000011", creditor_reference="",
                virtual_account="", remittance_info="互助事件 1"),
        _credit(bank_reference="HZB000000000004", end_to_end_id="PAY-CASE-1", amount_fen=10_000_000,
                counterparty_name="彭静家属", counterparty_account="6222020000000000011", creditor_reference="",
                virtual_account="", remittance_info="", return_reason="AC04"),
    ]
    xml = _camt054(entries)
    root = validate(xml, CAMT054)
    assert root.xpath("//c:Ntry/c:Amt/text()", namespaces=NS[CAMT054]) == ["9.00", "0.01", "100000.00", "100000.00"]
    assert root.xpath("//c:CdtrRefInf/c:Ref/text()", namespaces=NS[CAMT054]) == ["M00000123", "NOBODY-42"]
    assert root.xpath("//c:Ntry[4]//c:Fmly/c:SubFmlyCd/text()", namespaces=NS[CAMT054]) == ["RRTN"]
    parsed = parse_camt054(xml)
    assert (parsed.message_id, parsed.account_id, parsed.currency, parsed.sequence_number) == (
        "HZN000000000001", "HUZHU-CUSTODY-0001", "CNY", 1)
    assert parsed.entries == tuple(entries)


@pytest.mark.parametrize(("path", "text", "message"), [
    ("//c:Ntry/c:Amt", "9.001", "fen"),
    ("//c:Ntry/c:Sts/c:Cd", "PDNG", "booked"),
    ("//c:Ntry/c:NtryDtls/c:TxDtls/c:Amt", "8.00", "add up"),
    ("//c:Acct/c:Ccy", "USD", "account is in USD"),
    ("//c:Ntry/c:CdtDbtInd", "CREDIT", "does not conform"),
    ("//c:Ntry/c:Amt", "-9.00", "does not conform"),
    ("//c:Ntry/c:Amt", "9.0e0", "does not conform"),
])
def test_camt054_refusals(path: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_camt054(_tamper(_camt054([_credit()]), CAMT054, path, text))


def test_camt054_entry_refusals() -> None:
    with pytest.raises(InvalidInput, match="integer"):
        _credit(amount_fen=9.0)
    with pytest.raises(InvalidInput, match="greater than zero"):
        _credit(amount_fen=-900)
    with pytest.raises(InvalidInput, match="a debit has no virtual account"):
        _credit(direction="DBIT")
    with pytest.raises(InvalidInput, match="35"):
        _credit(creditor_reference="R" * 36)
    with pytest.raises(InvalidInput, match="at least one entry"):
        _camt054([])
    root = etree.fromstring(_camt054([_credit()]))
    for ref in root.xpath("//c:AcctSvcrRef", namespaces=NS[CAMT054]):
        ref.getparent().remove(ref)
    with pytest.raises(InvalidInput, match="bank reference"):
        parse_camt054(etree.tostring(root))


# --- camt.053 with sequence numbers; streamed ---------------------------------------------------


def _statement_entries(n: int) -> list[StatementEntry]:
    return [StatementEntry(f"E{i}", 100 + i, "CRDT" if i % 3 else "DBIT", T + timedelta(seconds=i), f"line {i}",
                           bank_reference=f"HZB{i:012d}") for i in range(n)]


def test_camt053_sequence_numbers_and_bank_references() -> None:
    entries = _statement_entries(5)
    xml = build_camt053(statement_id="HZ20160302S00000007", created_at=T + timedelta(hours=9),
                        account_id="HUZHU-CUSTODY-0001", opening_balance_fen=1_000, entries=entries,
                        from_to=(T, T + timedelta(hours=9)), sequence_number=7)
    root = validate(xml, CAMT053)
    assert root.xpath("//c:Stmt/c:ElctrncSeqNb/text()", namespaces=NS[CAMT053]) == ["7"]
    assert root.xpath("//c:Stmt/c:LglSeqNb/text()", namespaces=NS[CAMT053]) == ["7"]
    statement = parse_camt053(xml)
    assert (statement.electronic_sequence_number, statement.legal_sequence_number) == (7, 7)
    assert statement.entries == tuple(entries)
    assert statement.closing_balance_fen == 1_000 + sum(e.signed_fen for e in entries)
    with pytest.raises(InvalidInput, match="sequence_number"):
        build_camt053(statement_id="S", created_at=T, account_id="A", opening_balance_fen=0, entries=[],
                      from_to=(T, T), sequence_number=0)


def test_camt053_streamed_write_and_read_match_the_in_memory_ones(tmp_path: Path) -> None:
    entries = _statement_entries(50)
    closing = -7 + sum(e.signed_fen for e in entries)
    path = tmp_path / "statement.xml"
    summary = write_camt053(path, statement_id="S-1", created_at=T + timedelta(hours=9), account_id="HUZHU-CUSTODY-0001",
                            opening_balance_fen=-7, closing_balance_fen=closing, entries=iter(entries),
                            from_to=(T, T + timedelta(hours=9)), sequence_number=3)
    assert (summary.entry_count, summary.closing_balance_fen, summary.electronic_sequence_number) == (50, closing, 3)
    assert summary.credits_fen - summary.debits_fen == closing + 7
    in_memory = parse_camt053(path.read_bytes())
    reader = Camt053Reader(path)
    assert tuple(reader) == in_memory.entries == tuple(entries)
    assert reader.summary == summary


def test_camt053_stream_refusals(tmp_path: Path) -> None:
    entries = _statement_entries(10)
    closing = sum(e.signed_fen for e in entries)
    path = tmp_path / "s.xml"
    with pytest.raises(InvalidInput, match="closing balance given"):
        write_camt053(path, statement_id="S", created_at=T, account_id="A", opening_balance_fen=0,
                      closing_balance_fen=closing + 1, entries=entries, from_to=(T, T + timedelta(hours=1)))
    assert not path.exists()  # nothing half-written is left behind
    write_camt053(path, statement_id="S", created_at=T, account_id="A", opening_balance_fen=0,
                  closing_balance_fen=closing, entries=entries, from_to=(T, T + timedelta(hours=1)))
    good = path.read_bytes()
    tampered = _tamper(good, CAMT053, "//c:Ntry[4]/c:Amt", "1.04")
    with pytest.raises(InvalidInput):
        list(Camt053Reader(io.BytesIO(tampered)))  # the entry no longer matches its transaction
    unexpected = good.replace(b"</Stmt>", b"<Unexpected/></Stmt>")
    with pytest.raises(InvalidInput, match="does not conform to the schema"):
        list(Camt053Reader(io.BytesIO(unexpected)))
    wrong_closing = _tamper(good, CAMT053, "//c:Bal[c:Tp/c:CdOrPrtry/c:Cd='CLBD']/c:Amt", "0.01")
    root = etree.fromstring(good)
    stmt = root.xpath("//c:Stmt", namespaces=NS[CAMT053])[0]
    stmt.addnext(etree.fromstring(etree.tostring(stmt)))  # a second account statement in the message
    with pytest.raises(InvalidInput, match="exactly one <Stmt>"):
        list(Camt053Reader(io.BytesIO(etree.tostring(root))))
    with pytest.raises(InvalidInput, match="closing balance"):
        list(Camt053Reader(io.BytesIO(wrong_closing)))


def test_unknown_schema_still_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown schema"):
        validate(b"<a/>", "camt.052.001.08")
