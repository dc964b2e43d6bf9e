"""ISO 20022 custodian messages: pain.001 out, camt.053 in; schema validation and exact amounts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from huzhu.custody.iso20022 import (
    CAMT053,
    PAIN001,
    PaymentInstruction,
    StatementEntry,
    build_camt053,
    build_pain001,
    parse_camt053,
    validate,
)
from huzhu.errors import InvalidInput

CST = timezone(timedelta(hours=8))
PAIN_NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
CAMT_NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
FROM = datetime(2016, 3, 1, tzinfo=CST)
TO = datetime(2016, 3, 31, 23, 59, 59, tzinfo=CST)


def _entries() -> list[StatementEntry]:
    return [
        StatementEntry(
            "DEP-0001", 900, "CRDT", datetime(2016, 3, 2, 9, 0, tzinfo=CST), "join deposit 会员 1"
        ),
        StatementEntry("DEP-0002", 1, "CRDT", datetime(2016, 3, 2, 9, 0, 1, tzinfo=CST), "0.01 top-up"),
        StatementEntry("BIG-0001", 9_999_999_999, "CRDT", datetime(2016, 3, 3, 1, 0, tzinfo=UTC), "x" * 300),
        StatementEntry(
            "PAY-CASE-1", 10_000_000, "DBIT", datetime(2016, 3, 18, 15, 30, 0, 250000, tzinfo=CST), ""
        ),
        StatementEntry("REF-0001", 1, "DBIT", datetime(2016, 3, 31, 23, 59, 59, tzinfo=CST), "refund"),
    ]


def _statement(opening: int = 12_345, entries: list[StatementEntry] | None = None) -> bytes:
    return build_camt053(
        statement_id="STMT-2016-03",
        created_at=datetime(2016, 4, 1, 8, 0, tzinfo=CST),
        account_id="6222020200112233445",
        opening_balance_fen=opening,
        entries=_entries() if entries is None else entries,
        from_to=(FROM, TO),
    )


# --- camt.053 -----------------------------------------------------------------------------------


def test_camt053_round_trip() -> None:
    entries = _entries()
    xml = _statement(entries=entries)
    validate(xml, CAMT053)
    statement = parse_camt053(xml)
    assert statement.statement_id == "STMT-2016-03"
    assert statement.account_id == "6222020200112233445"
    assert statement.currency == "CNY"
    assert statement.opening_balance_fen == 12_345
    expected_closing = 12_345 + 900 + 1 + 9_999_999_999 - 10_000_000 - 1
    assert statement.closing_balance_fen == expected_closing
    assert statement.entries == tuple(entries)  # amounts, directions, instants, long remittance info


def test_camt053_text_has_exact_decimals_and_balances() -> None:
    root = etree.fromstring(_statement())
    amounts = root.xpath("//c:Ntry/c:Amt/text()", namespaces=CAMT_NS)
    assert amounts == ["9.00", "0.01", "99999999.99", "100000.00", "0.01"]
    codes = root.xpath("//c:Bal/c:Tp/c:CdOrPrtry/c:Cd/text()", namespaces=CAMT_NS)
    assert codes == ["OPBD", "CLBD"]
    assert root.xpath("//c:Ntry/c:Sts/c:Cd/text()", namespaces=CAMT_NS) == ["BOOK"] * 5
    assert root.xpath("//c:TxDtls/c:Refs/c:EndToEndId/text()", namespaces=CAMT_NS)[3] == "PAY-CASE-1"
    assert root.xpath("//c:Acct/c:Id/c:Othr/c:Id/text()", namespaces=CAMT_NS) == ["6222020200112233445"]


def test_camt053_negative_and_empty_statement() -> None:
    xml = _statement(opening=-500, entries=[])
    statement = parse_camt053(xml)
    assert statement.opening_balance_fen == statement.closing_balance_fen == -500
    assert statement.entries == ()
    assert etree.fromstring(xml).xpath("//c:Bal/c:CdtDbtInd/text()", namespaces=CAMT_NS) == ["DBIT", "DBIT"]


def _replace_closing(xml: bytes, new_amount: str) -> bytes:
    root = etree.fromstring(xml)
    (amt,) = root.xpath("//c:Bal[c:Tp/c:CdOrPrtry/c:Cd='CLBD']/c:Amt", namespaces=CAMT_NS)
    amt.text = new_amount
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_tampered_closing_balance_rejected() -> None:
    xml = _statement()
    closing = parse_camt053(xml).closing_balance_fen
    tampered = _replace_closing(xml, str((Decimal(closing) + 1) / 100))  # one fen more
    validate(tampered, CAMT053)  # still schema-valid ...
    with pytest.raises(InvalidInput, match="closing balance"):
        parse_camt053(tampered)  # ... but does not add up


def test_tampered_entry_amount_rejected() -> None:
    root = etree.fromstring(_statement())
    root.xpath("//c:Ntry/c:Amt", namespaces=CAMT_NS)[0].text = "9.01"
    with pytest.raises(InvalidInput):
        parse_camt053(etree.tostring(root))


def test_sub_fen_amount_rejected() -> None:
    xml = _statement()
    closing = parse_camt053(xml).closing_balance_fen
    tampered = _replace_closing(xml, str(Decimal(closing) / 100 + Decimal("0.001")))
    with pytest.raises(InvalidInput, match="fen"):
        parse_camt053(tampered)


def test_trailing_zero_decimals_are_exact() -> None:
    xml = _statement()
    closing = parse_camt053(xml).closing_balance_fen
    padded = _replace_closing(xml, f"{Decimal(closing) / 100:.5f}")
    assert parse_camt053(padded).closing_balance_fen == closing


def test_malformed_xml_rejected_with_clear_message() -> None:
    with pytest.raises(InvalidInput, match=r"camt\.053\.001\.08: the message is not well-formed XML"):
        parse_camt053(b"<Document><BkToCstmrStmt></Document>")


def test_schema_invalid_statement_names_the_error() -> None:
    root = etree.fromstring(_statement())
    for sts in root.xpath("//c:Ntry/c:Sts/c:Cd", namespaces=CAMT_NS):
        sts.text = "BOOKED-BY-HAND"  # ExternalEntryStatus1Code is at most 4 characters
    with pytest.raises(InvalidInput, match=r"camt\.053\.001\.08: the message does not conform.*line \d+"):
        parse_camt053(etree.tostring(root))


def test_wrong_document_type_rejected() -> None:
    pain = build_pain001(
        message_id="M-1",
        created_at=TO,
        debtor_name="custody",
        debtor_iban_or_account="6222020200112233445",
        payments=[PaymentInstruction("E1", 100, "x", "123", "r", date(2016, 3, 20))],
    )
    with pytest.raises(InvalidInput, match="camt.053.001.08"):
        parse_camt053(pain)


def test_pending_entry_rejected() -> None:
    root = etree.fromstring(_statement())
    root.xpath("//c:Ntry/c:Sts/c:Cd", namespaces=CAMT_NS)[0].text = "PDNG"
    with pytest.raises(InvalidInput, match="booked"):
        parse_camt053(etree.tostring(root))


def test_builder_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput):
        StatementEntry("E", 0, "CRDT", FROM, "")
    with pytest.raises(InvalidInput):
        StatementEntry("E", 1, "CREDIT", FROM, "")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="timezone"):
        StatementEntry("E", 1, "CRDT", datetime(2016, 3, 2), "")  # noqa: DTZ001
    with pytest.raises(InvalidInput, match="outside"):
        _statement(entries=[StatementEntry("E", 1, "CRDT", TO + timedelta(seconds=1), "")])
    with pytest.raises(InvalidInput, match="cannot be written in XML"):
        _statement(entries=[StatementEntry("E", 1, "CRDT", FROM, "bell \x07")])


def test_entry_without_details_and_date_only_booking() -> None:
    root = etree.fromstring(_statement(opening=0, entries=[_entries()[0]]))
    (ntry,) = root.xpath("//c:Ntry", namespaces=CAMT_NS)
    for details in ntry.xpath("c:NtryDtls", namespaces=CAMT_NS):
        ntry.remove(details)
    (booking,) = ntry.xpath("c:BookgDt", namespaces=CAMT_NS)
    booking[0].tag = booking[0].tag.replace("DtTm", "Dt")
    booking[0].text = "2016-03-02"
    (entry,) = parse_camt053(etree.tostring(root)).entries
    assert entry.end_to_end_id == "NOTPROVIDED"
    assert entry.booked_at == datetime(2016, 3, 2, tzinfo=CST)


# --- pain.001 -----------------------------------------------------------------------------------


def _payments() -> list[PaymentInstruction]:
    return [
        PaymentInstruction(
            "CASE-1-PAYOUT",
            10_000_000,
            "彭*家属",
            "6222000011112222333",
            "互助事件 1 accidental death",
            date(2016, 3, 20),
        ),
        PaymentInstruction(
            "CASE-2-PAYOUT", 9_000_000, "周四喜", "6217000099998888", "case 2 disability", date(2016, 3, 20)
        ),
        PaymentInstruction(
            "REFUND-77", 1, "member 77", "DE89 3704 0044 0532 0130 00", "refund 0.01", date(2016, 3, 21)
        ),
        PaymentInstruction(
            "REFUND-78", 9_999_999_999, "member 78", "6222000011113333", "", date(2016, 3, 21)
        ),
    ]


def _pain(payments: list[PaymentInstruction] | None = None) -> bytes:
    return build_pain001(
        message_id="HUZHU-PAY-2016-03-20-0001",
        created_at=datetime(2016, 3, 19, 18, 0, tzinfo=CST),
        debtor_name="huzhu custody account",
        debtor_iban_or_account="6222020200112233445",
        payments=_payments() if payments is None else payments,
    )


def test_pain001_validates_and_carries_ids_and_exact_sum() -> None:
    xml = _pain()
    root = validate(xml, PAIN001)
    assert root.xpath("//p:GrpHdr/p:NbOfTxs/text()", namespaces=PAIN_NS) == ["4"]
    total = 10_000_000 + 9_000_000 + 1 + 9_999_999_999
    assert root.xpath("//p:GrpHdr/p:CtrlSum/text()", namespaces=PAIN_NS) == ["100190000.00"]
    assert Decimal(root.xpath("string(//p:GrpHdr/p:CtrlSum)", namespaces=PAIN_NS)) * 100 == total
    instructed = root.xpath("//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=PAIN_NS)
    assert [a.text for a in instructed] == ["100000.00", "90000.00", "0.01", "99999999.99"]
    assert {a.get("Ccy") for a in instructed} == {"CNY"}
    assert root.xpath("//p:PmtId/p:EndToEndId/text()", namespaces=PAIN_NS) == [
        "CASE-1-PAYOUT",
        "CASE-2-PAYOUT",
        "REFUND-77",
        "REFUND-78",
    ]
    # one payment block per execution date, each with its own exact control sum
    blocks = root.xpath("//p:PmtInf", namespaces=PAIN_NS)
    assert [b.xpath("string(p:ReqdExctnDt/p:Dt)", namespaces=PAIN_NS) for b in blocks] == [
        "2016-03-20",
        "2016-03-21",
    ]
    assert [b.xpath("string(p:CtrlSum)", namespaces=PAIN_NS) for b in blocks] == ["190000.00", "100000000.00"]
    # a Chinese account number goes in <Othr><Id>, a valid IBAN in <IBAN>
    assert root.xpath("string(//p:DbtrAcct/p:Id/p:Othr/p:Id)", namespaces=PAIN_NS) == "6222020200112233445"
    assert root.xpath("//p:CdtrAcct/p:Id/p:IBAN/text()", namespaces=PAIN_NS) == ["DE89370400440532013000"]


def test_pain001_rejects_bad_input() -> None:
    one = _payments()[0]
    with pytest.raises(InvalidInput, match="twice"):
        _pain([one, one])
    with pytest.raises(InvalidInput, match="at least one"):
        _pain([])
    with pytest.raises(InvalidInput, match="35"):
        PaymentInstruction("E" * 36, 1, "x", "1", "", date(2016, 3, 20))
    with pytest.raises(InvalidInput, match="integer"):
        PaymentInstruction("E", 1.5, "x", "1", "", date(2016, 3, 20))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="currency"):
        PaymentInstruction("E", 1, "x", "1", "", date(2016, 3, 20), currency="yuan")
    with pytest.raises(InvalidInput, match="timezone"):
        build_pain001(
            message_id="M",
            created_at=datetime(2016, 3, 19),  # noqa: DTZ001
            debtor_name="d",
            debtor_iban_or_account="1",
            payments=[one],
        )


def test_validate_unknown_schema_and_bytes() -> None:
    with pytest.raises(InvalidInput, match="unknown schema"):
        validate(b"<a/>", "camt.052.001.08")
    with pytest.raises(InvalidInput, match="bytes"):
        validate("<a/>", CAMT053)  # type: ignore[arg-type]


def test_schemas_ship_inside_the_package() -> None:
    from importlib import resources

    folder = resources.files("huzhu.custody").joinpath("schemas")
    names = {p.name for p in folder.iterdir()}
    assert {"pain.001.001.09.xsd", "camt.053.001.08.xsd"} <= names
