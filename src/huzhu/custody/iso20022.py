"""ISO 20022 messages between the platform and its custodian bank.

- ``pain.001.001.09`` (CustomerCreditTransferInitiation): the platform instructs the custodian to pay
  (aid payouts, refunds). Built by :func:`build_pain001`.
- ``camt.053.001.08`` (BankToCustomerStatement): the custodian reports the custody account; the
  platform reconciles its ledger against it. Built by :func:`build_camt053` (the simulated custodian)
  and read by :func:`parse_camt053`; a statement of any size is written by :func:`write_camt053` and
  read by :class:`Camt053Reader`, both streaming (memory does not grow with the number of entries).
  The bank numbers its statements (``ElctrncSeqNb`` and ``LglSeqNb``, gapless).
- ``pain.001.001.09`` read by the bank: :func:`parse_pain001`.
- ``pain.002.001.12`` (CustomerPaymentStatusReport): the bank answers a pain.001, as a whole and per
  payment (ACCP accepted for processing, ACSC settled, RJCT rejected with an ISO reason code such as
  AC01; a RJCT after an ACSC for the same EndToEndId is a payment that came back). Built by
  :func:`build_pain002`, read by :func:`parse_pain002`. ISO released .10 with pain.001.001.09; no
  package we could take it from ships .10, so the bundled, official .12 is used (schemas/README.md).
- ``camt.054.001.08`` (BankToCustomerDebitCreditNotification): the bank notifies each booking on the
  custody account: a member's deposit (with the payer's name and account and the *creditor
  reference*: the member's reference or virtual sub-account), a payment out, a payment coming back
  (``RtrInf``). Built by :func:`build_camt054`, read by :func:`parse_camt054`.

Every message built here is validated against its XSD before it is returned, and every statement is
validated before it is read. The schemas ship inside this package (``huzhu/custody/schemas``, see the
README there): they are the *general* ISO 20022 schemas, not the SEPA (EPC) restricted variants, so
currency ``CNY`` is allowed. Chinese bank account numbers are not IBANs; an account string that is a
valid IBAN (pattern and ISO 7064 mod 97-10 check) is written as ``<IBAN>``, anything else as
``<Othr><Id>`` (Max34Text). The debtor agent (the custodian) is ``<FinInstnId><Othr><Id>NOTPROVIDED``
unless a BIC is given. Payment instructions are sent with ``BtchBookg=false`` so that each payment is
booked, and therefore reported, as its own statement entry carrying its EndToEndId.

Amounts are integer fen inside and exact decimal text in the XML ("0.01", "99999999.99"); parsing goes
through ``Decimal`` and refuses anything below one fen. Date-times must be timezone-aware when given to
the builders; a statement date-time without an offset, or a date without a time, is read as China
Standard Time (the custodian's local time), midnight for a bare date.

Pure: no database, no clock. XML parsing refuses DTDs' external entities and network access.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import BinaryIO, Literal

from lxml import etree
from stdnum import iban as _iban

from huzhu.clock import CHINA_TZ, start_of_business_day
from huzhu.custody.errors import Iso20022Error, inner, where
from huzhu.errors import InvalidInput
from huzhu.messages import OneOf
from huzhu.money import MAX_FEN, format_yuan, parse_yuan

__all__ = [
    "CAMT053",
    "CAMT054",
    "PAIN001",
    "PAIN002",
    "Camt053Reader",
    "Notification",
    "NotificationEntry",
    "PaymentBlock",
    "PaymentInitiation",
    "PaymentInstruction",
    "PaymentStatusReport",
    "Statement",
    "StatementEntry",
    "StatementSummary",
    "TransactionStatus",
    "build_camt053",
    "build_camt054",
    "build_pain001",
    "build_pain002",
    "parse_camt053",
    "parse_camt054",
    "parse_pain001",
    "parse_pain002",
    "validate",
    "write_camt053",
]

PAIN001 = "pain.001.001.09"
PAIN002 = "pain.002.001.12"
CAMT053 = "camt.053.001.08"
CAMT054 = "camt.054.001.08"
_NS = {name: f"urn:iso:std:iso:20022:tech:xsd:{name}" for name in (PAIN001, PAIN002, CAMT053, CAMT054)}

Direction = Literal["CRDT", "DBIT"]
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}$")
_BIC = re.compile(r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_USTRD_LEN = 140  # Max140Text: longer remittance information is split over several <Ustrd> lines
NOT_PROVIDED = "NOTPROVIDED"


# --- value types --------------------------------------------------------------------------------


def _check_text(value: object, field: str, max_len: int, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidInput(Iso20022Error.NOT_TEXT, field=field)
    if required and not value.strip():
        raise InvalidInput(Iso20022Error.EMPTY, field=field)
    if len(value) > max_len:
        raise InvalidInput(Iso20022Error.TOO_LONG, field=field, length=len(value), max=max_len)


def _check_amount(amount_fen: object, field: str) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput(Iso20022Error.NOT_FEN, field=field)
    if amount_fen <= 0:
        raise InvalidInput(Iso20022Error.NOT_POSITIVE, field=field)
    if amount_fen > MAX_FEN:
        raise InvalidInput(Iso20022Error.TOO_LARGE, field=field)


def _check_currency(currency: object) -> None:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise InvalidInput(Iso20022Error.CURRENCY, currency=currency)


def _check_aware(moment: object, field: str) -> None:
    if not isinstance(moment, datetime):
        raise InvalidInput(Iso20022Error.NOT_DATETIME, field=field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(Iso20022Error.NOT_AWARE, field=field)


@dataclass(frozen=True, slots=True)
class PaymentInstruction:
    """One credit transfer the custodian is asked to make from the custody account."""

    end_to_end_id: str
    amount_fen: int
    creditor_name: str
    creditor_account: str
    remittance_info: str
    requested_date: date
    currency: str = "CNY"

    def __post_init__(self) -> None:
        _check_text(self.end_to_end_id, "end_to_end_id", 35)
        _check_amount(self.amount_fen, "amount_fen")
        _check_currency(self.currency)
        _check_text(self.creditor_name, "creditor_name", 140)
        _check_text(self.creditor_account, "creditor_account", 34)
        _check_text(self.remittance_info, "remittance_info", 10_000, required=False)
        if not isinstance(self.requested_date, date) or isinstance(self.requested_date, datetime):
            raise InvalidInput(Iso20022Error.NOT_DATE, field="requested_date")


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """One booked movement on the custody account: ``amount_fen`` is positive, the sign is ``direction``."""

    end_to_end_id: str
    amount_fen: int
    direction: Direction
    booked_at: datetime
    remittance_info: str
    bank_reference: str = ""  # the bank's own reference of the booking (AcctSvcrRef), when it gives one

    def __post_init__(self) -> None:
        _check_text(self.end_to_end_id, "end_to_end_id", 35)
        _check_amount(self.amount_fen, "amount_fen")
        if self.direction not in ("CRDT", "DBIT"):
            raise InvalidInput(Iso20022Error.DIRECTION, direction=self.direction)
        _check_aware(self.booked_at, "booked_at")
        _check_text(self.remittance_info, "remittance_info", 10_000, required=False)
        _check_text(self.bank_reference, "bank_reference", 35, required=False)

    @property
    def signed_fen(self) -> int:
        """+amount for a credit, −amount for a debit."""
        return self.amount_fen if self.direction == "CRDT" else -self.amount_fen


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed, schema-valid and arithmetically consistent camt.053 account statement."""

    statement_id: str
    account_id: str
    currency: str
    opening_balance_fen: int
    closing_balance_fen: int
    entries: tuple[StatementEntry, ...]
    electronic_sequence_number: int | None = None  # ElctrncSeqNb: the bank's statement number
    legal_sequence_number: int | None = None  # LglSeqNb


# --- schemas ------------------------------------------------------------------------------------

_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
_local = threading.local()  # lxml schema and parser objects are not shared between threads


def _schema(schema_name: str) -> etree.XMLSchema:
    cache: dict[str, etree.XMLSchema] = _local.__dict__.setdefault("schemas", {})
    if schema_name not in cache:
        if schema_name not in _NS:
            raise InvalidInput(Iso20022Error.UNKNOWN_SCHEMA, schema=schema_name, known=tuple(sorted(_NS)))
        resource = resources.files("huzhu.custody").joinpath("schemas", f"{schema_name}.xsd")
        with resource.open("rb") as fh:
            cache[schema_name] = etree.XMLSchema(etree.parse(fh, _parser()))
    return cache[schema_name]


def _parser() -> etree.XMLParser:
    parser = _local.__dict__.get("parser")
    if parser is None:
        parser = _local.parser = etree.XMLParser(**_PARSER_OPTIONS)
    return parser


def validate(xml: bytes, schema_name: str) -> etree._Element:
    """Parse ``xml`` and validate it against ``schema_name`` ("pain.001.001.09", "camt.053.001.08").

    Returns the root element; raises :class:`InvalidInput` naming the schema and the first error.
    """
    schema_name = schema_name.removesuffix(".xsd")
    schema = _schema(schema_name)
    if not isinstance(xml, bytes | bytearray):
        raise InvalidInput(Iso20022Error.NOT_BYTES, schema=schema_name)
    try:
        root = etree.fromstring(bytes(xml), _parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(Iso20022Error.NOT_WELL_FORMED, schema=schema_name, error=exc) from exc
    if not schema.validate(root):
        errors = list(schema.error_log)
        first = errors[0]
        more = {"more": len(errors) - 1} if len(errors) > 1 else {}
        raise InvalidInput(
            Iso20022Error.NOT_VALID_AT_MORE if more else Iso20022Error.NOT_VALID_AT, schema=schema_name, line=first.line,
            error=first.message, **more,
            details={"schema": schema_name, "errors": [f"line {e.line}: {e.message}" for e in errors[:20]]},
        )
    return root


# --- building -----------------------------------------------------------------------------------


class _Builder:
    def __init__(self, schema_name: str, root_child: str) -> None:
        self.ns = _NS[schema_name]
        self.schema_name = schema_name
        self.document = etree.Element(self._q("Document"), nsmap={None: self.ns})
        self.top = self.sub(self.document, root_child)

    def _q(self, tag: str) -> str:
        return f"{{{self.ns}}}{tag}"

    def sub(self, parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
        element = etree.SubElement(parent, self._q(tag), attrib)
        if text is not None:
            try:
                element.text = text
            except ValueError as exc:  # control characters and the like cannot be written in XML
                raise InvalidInput(Iso20022Error.NOT_XML_TEXT, tag=tag, text=text, error=exc) from exc
        return element

    def path(self, parent: etree._Element, tags: str, text: str | None = None) -> etree._Element:
        """``path(p, "A/B/C", "x")`` creates <A><B><C>x</C></B></A> under ``p``."""
        *outer, last = tags.split("/")
        for tag in outer:
            parent = self.sub(parent, tag)
        return self.sub(parent, last, text)

    def account(self, parent: etree._Element, tag: str, account: str, currency: str | None = None) -> None:
        acct = self.sub(parent, tag)
        ident = self.sub(acct, "Id")
        compact = account.replace(" ", "").upper()
        if _IBAN_SHAPE.match(compact) and _iban.is_valid(compact):
            self.sub(ident, "IBAN", compact)
        else:
            self.path(ident, "Othr/Id", account)
        if currency is not None:
            self.sub(acct, "Ccy", currency)

    def amount(self, parent: etree._Element, tag: str, fen: int, currency: str) -> None:
        self.sub(parent, tag, format_yuan(fen), Ccy=currency)

    def remittance(self, parent: etree._Element, info: str) -> None:
        if not info:
            return
        rmt = self.sub(parent, "RmtInf")
        for start in range(0, len(info), _USTRD_LEN):
            self.sub(rmt, "Ustrd", info[start : start + _USTRD_LEN])

    def finish(self) -> bytes:
        xml = etree.tostring(self.document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        validate(xml, self.schema_name)
        return xml


def _iso_datetime(moment: datetime) -> str:
    return moment.isoformat()


def build_pain001(
    *,
    message_id: str,
    created_at: datetime,
    debtor_name: str,
    debtor_iban_or_account: str,
    payments: Sequence[PaymentInstruction],
    debtor_agent_bic: str | None = None,
) -> bytes:
    """Build a schema-valid ``pain.001.001.09`` asking the custodian to make ``payments``.

    One ``PmtInf`` block per requested execution date (in date order, payments in the given order);
    ``NbOfTxs`` and the exact ``CtrlSum`` are given for the message and for each block. End-to-end ids
    must be unique within the message.
    """
    _check_text(message_id, "message_id", 35)
    _check_aware(created_at, "created_at")
    _check_text(debtor_name, "debtor_name", 140)
    _check_text(debtor_iban_or_account, "debtor_iban_or_account", 34)
    if debtor_agent_bic is not None and not _BIC.match(debtor_agent_bic):
        raise InvalidInput(Iso20022Error.NOT_A_BIC, bic=debtor_agent_bic)
    payments = list(payments)
    if not payments:
        raise InvalidInput(Iso20022Error.NO_PAYMENTS)
    seen: set[str] = set()
    for p in payments:
        if not isinstance(p, PaymentInstruction):
            raise InvalidInput(Iso20022Error.WRONG_ITEMS, field="payments", kind="PaymentInstruction")
        if p.end_to_end_id in seen:
            raise InvalidInput(Iso20022Error.END_TO_END_TWICE, id=p.end_to_end_id)
        seen.add(p.end_to_end_id)

    groups: OrderedDict[date, list[PaymentInstruction]] = OrderedDict()
    for p in sorted(payments, key=lambda p: p.requested_date):  # stable: keeps order within a date
        groups.setdefault(p.requested_date, []).append(p)

    b = _Builder(PAIN001, "CstmrCdtTrfInitn")
    hdr = b.sub(b.top, "GrpHdr")
    b.sub(hdr, "MsgId", message_id)
    b.sub(hdr, "CreDtTm", _iso_datetime(created_at))
    b.sub(hdr, "NbOfTxs", str(len(payments)))
    b.sub(hdr, "CtrlSum", format_yuan(sum(p.amount_fen for p in payments)))
    b.path(hdr, "InitgPty/Nm", debtor_name)

    for day, group in groups.items():
        pmt = b.sub(b.top, "PmtInf")
        b.sub(pmt, "PmtInfId", message_id if len(groups) == 1 else f"{message_id[:26]}-{day:%Y%m%d}")
        b.sub(pmt, "PmtMtd", "TRF")
        b.sub(pmt, "BtchBookg", "false")
        b.sub(pmt, "NbOfTxs", str(len(group)))
        b.sub(pmt, "CtrlSum", format_yuan(sum(p.amount_fen for p in group)))
        b.path(pmt, "ReqdExctnDt/Dt", day.isoformat())
        b.path(pmt, "Dbtr/Nm", debtor_name)
        b.account(pmt, "DbtrAcct", debtor_iban_or_account)
        fin = b.path(pmt, "DbtrAgt/FinInstnId")
        if debtor_agent_bic:
            b.sub(fin, "BICFI", debtor_agent_bic)
        else:
            b.path(fin, "Othr/Id", NOT_PROVIDED)
        for p in group:
            tx = b.sub(pmt, "CdtTrfTxInf")
            b.path(tx, "PmtId/EndToEndId", p.end_to_end_id)
            b.amount(b.sub(tx, "Amt"), "InstdAmt", p.amount_fen, p.currency)
            b.path(tx, "Cdtr/Nm", p.creditor_name)
            b.account(tx, "CdtrAcct", p.creditor_account)
            b.remittance(tx, p.remittance_info)
    return b.finish()


def build_camt053(
    *,
    statement_id: str,
    created_at: datetime,
    account_id: str,
    currency: str = "CNY",
    opening_balance_fen: int,
    entries: Sequence[StatementEntry],
    from_to: tuple[datetime, datetime],
    sequence_number: int | None = None,
) -> bytes:
    """Build a schema-valid ``camt.053.001.08`` statement of the custody account.

    Opening balance (OPBD) at the start of ``from_to``, closing balance (CLBD) = opening + credits −
    debits at its end, one booked ``Ntry`` per entry (each booked within ``from_to``) with the
    EndToEndId and remittance information in its transaction details. ``sequence_number`` (the bank's
    statement number) is written as both ``ElctrncSeqNb`` and ``LglSeqNb``.
    """
    _check_statement_header(statement_id, created_at, account_id, currency, opening_balance_fen)
    start, end = _check_period(from_to)
    _check_sequence_number(sequence_number)
    entries = list(entries)
    for i, e in enumerate(entries):
        _check_statement_entry(e, i, start, end)
    closing = opening_balance_fen + sum(e.signed_fen for e in entries)
    if abs(opening_balance_fen) > MAX_FEN or abs(closing) > MAX_FEN:
        raise InvalidInput(Iso20022Error.BALANCE_TOO_LARGE)

    b = _Builder(CAMT053, "BkToCstmrStmt")
    stmt = _statement_head(b, b.top, statement_id=statement_id, created_at=created_at,
                           sequence_number=sequence_number, start=start, end=end, account_id=account_id,
                           currency=currency, opening_balance_fen=opening_balance_fen, closing_fen=closing)
    for e in entries:
        stmt.append(_statement_entry_element(b, e, currency))
    return b.finish()


def _check_statement_header(
    statement_id: object, created_at: object, account_id: object, currency: object, opening_balance_fen: object
) -> None:
    _check_text(statement_id, "statement_id", 35)
    _check_aware(created_at, "created_at")
    _check_text(account_id, "account_id", 34)
    _check_currency(currency)
    if isinstance(opening_balance_fen, bool) or not isinstance(opening_balance_fen, int):
        raise InvalidInput(Iso20022Error.NOT_FEN, field="opening_balance_fen")


def _check_period(from_to: object) -> tuple[datetime, datetime]:
    if not isinstance(from_to, tuple) or len(from_to) != 2:
        raise InvalidInput(Iso20022Error.PERIOD_PAIR)
    start, end = from_to
    _check_aware(start, "from_to[0]")
    _check_aware(end, "from_to[1]")
    if end < start:
        raise InvalidInput(Iso20022Error.PERIOD_BACKWARDS)
    return start, end


def _check_sequence_number(sequence_number: object) -> None:
    if sequence_number is None:
        return
    if isinstance(sequence_number, bool) or not isinstance(sequence_number, int) or sequence_number < 1:
        raise InvalidInput(Iso20022Error.SEQUENCE_NUMBER)
    if sequence_number >= 10**18:  # Number: at most 18 digits
        raise InvalidInput(Iso20022Error.TOO_LARGE, field="sequence_number")


def _check_statement_entry(e: object, i: int, start: datetime, end: datetime) -> None:
    if not isinstance(e, StatementEntry):
        raise InvalidInput(Iso20022Error.WRONG_ITEMS, field="entries", kind="StatementEntry")
    if not start <= e.booked_at <= end:
        raise InvalidInput(Iso20022Error.OUTSIDE_PERIOD, index=i, id=e.end_to_end_id)


def _statement_head(
    b: _Builder, parent: etree._Element, *, statement_id: str, created_at: datetime,
    sequence_number: int | None, start: datetime, end: datetime, account_id: str, currency: str,
    opening_balance_fen: int, closing_fen: int,
) -> etree._Element:
    """GrpHdr, then <Stmt> up to and with its balances; entries are appended by the caller."""
    hdr = b.sub(parent, "GrpHdr")
    b.sub(hdr, "MsgId", statement_id)
    b.sub(hdr, "CreDtTm", _iso_datetime(created_at))
    stmt = b.sub(parent, "Stmt")
    b.sub(stmt, "Id", statement_id)
    if sequence_number is not None:
        b.sub(stmt, "ElctrncSeqNb", str(sequence_number))
        b.sub(stmt, "LglSeqNb", str(sequence_number))
    b.sub(stmt, "CreDtTm", _iso_datetime(created_at))
    period = b.sub(stmt, "FrToDt")
    b.sub(period, "FrDtTm", _iso_datetime(start))
    b.sub(period, "ToDtTm", _iso_datetime(end))
    b.account(stmt, "Acct", account_id, currency)
    for code, fen, moment in (("OPBD", opening_balance_fen, start), ("CLBD", closing_fen, end)):
        bal = b.sub(stmt, "Bal")
        b.path(bal, "Tp/CdOrPrtry/Cd", code)
        b.amount(bal, "Amt", abs(fen), currency)
        b.sub(bal, "CdtDbtInd", "DBIT" if fen < 0 else "CRDT")
        b.path(bal, "Dt/DtTm", _iso_datetime(moment))
    return stmt


def _bank_transaction_code(b: _Builder, parent: etree._Element, family: str, sub_family: str) -> None:
    domain = b.path(parent, "BkTxCd/Domn")
    b.sub(domain, "Cd", "PMNT")
    fmly = b.sub(domain, "Fmly")
    b.sub(fmly, "Cd", family)
    b.sub(fmly, "SubFmlyCd", sub_family)


def _statement_entry_element(b: _Builder, e: StatementEntry, currency: str) -> etree._Element:
    """One booked ``<Ntry>`` of a statement, built on its own (so it can also be streamed out)."""
    ntry = etree.Element(b._q("Ntry"), nsmap={None: b.ns})
    b.amount(ntry, "Amt", e.amount_fen, currency)
    b.sub(ntry, "CdtDbtInd", e.direction)
    b.path(ntry, "Sts/Cd", "BOOK")
    b.path(ntry, "BookgDt/DtTm", _iso_datetime(e.booked_at))
    if e.bank_reference:
        b.sub(ntry, "AcctSvcrRef", e.bank_reference)
    # received / issued domestic credit transfer
    _bank_transaction_code(b, ntry, "RCDT" if e.direction == "CRDT" else "ICDT", "DMCT")
    tx = b.path(ntry, "NtryDtls/TxDtls")
    refs = b.sub(tx, "Refs")
    if e.bank_reference:
        b.sub(refs, "AcctSvcrRef", e.bank_reference)
    b.sub(refs, "EndToEndId", e.end_to_end_id)
    b.amount(tx, "Amt", e.amount_fen, currency)
    b.sub(tx, "CdtDbtInd", e.direction)
    b.remittance(tx, e.remittance_info)
    return ntry


# --- pain.002: payment status reports (bank → platform) -----------------------------------------

# ExternalPaymentTransactionStatus1Code / ExternalPaymentGroupStatus1Code values the bank uses and the
# platform understands; PART (some accepted, some rejected) exists only for a whole message.
TRANSACTION_STATUSES = frozenset({"RCVD", "ACTC", "ACCP", "ACSP", "ACSC", "ACCC", "ACWC", "PDNG", "RJCT"})
GROUP_STATUSES = TRANSACTION_STATUSES | {"PART"}
_REASON = re.compile(r"^[A-Z0-9]{4}$")


def _check_reason(code: object, field: str) -> None:
    if not isinstance(code, str) or (code and not _REASON.match(code)):
        raise InvalidInput(Iso20022Error.REASON_CODE, field=field, code=code)


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    """The bank's answer about one payment of a pain.001, named by its EndToEndId.

    ``status``: ACCP (accepted for processing), ACSC (settled: the money left the custody account),
    RJCT (rejected, with ``reason_code`` such as AC01 invalid account number, AC04 closed account,
    AM04 insufficient funds, DUPL duplicate). A RJCT reported after an ACSC for the same EndToEndId
    is a *return*: the money came back, booked under ``bank_reference`` (see the camt.054 credit with
    the same reference).
    """

    end_to_end_id: str
    status: str
    reason_code: str = ""
    additional_info: str = ""
    amount_fen: int | None = None
    currency: str = "CNY"
    bank_reference: str = ""
    payment_info_id: str = ""  # the PmtInfId of the pain.001 block (the original message id if "")

    def __post_init__(self) -> None:
        _check_text(self.end_to_end_id, "end_to_end_id", 35)
        if self.status not in TRANSACTION_STATUSES:
            raise InvalidInput(Iso20022Error.TRANSACTION_STATUS, status=self.status, choices=OneOf(sorted(TRANSACTION_STATUSES)))
        _check_reason(self.reason_code, "reason_code")
        if self.status == "RJCT" and not self.reason_code:
            raise InvalidInput(Iso20022Error.REJECTION_REASON, id=self.end_to_end_id)
        _check_text(self.additional_info, "additional_info", 105, required=False)
        if self.amount_fen is not None:
            _check_amount(self.amount_fen, "amount_fen")
        _check_currency(self.currency)
        _check_text(self.bank_reference, "bank_reference", 35, required=False)
        _check_text(self.payment_info_id, "payment_info_id", 35, required=False)


@dataclass(frozen=True, slots=True)
class PaymentStatusReport:
    """A parsed, schema-valid pain.002: the status of a whole pain.001 and of its payments."""

    message_id: str
    created_at: datetime
    original_message_id: str
    original_message_type: str
    group_status: str  # "" when the report only carries transaction statuses
    group_reason_code: str
    transactions: tuple[TransactionStatus, ...]


def build_pain002(
    *,
    message_id: str,
    created_at: datetime,
    original_message_id: str,
    original_message_type: str = PAIN001,
    original_created_at: datetime | None = None,
    group_status: str | None,
    group_reason_code: str = "",
    transactions: Sequence[TransactionStatus] = (),
) -> bytes:
    """Build a schema-valid ``pain.002.001.12`` answering the pain.001 ``original_message_id``.

    ``group_status`` is the status of the whole message (ACCP, ACSC, PART, RJCT …) or ``None`` when the
    report is about some payments only (a later return). Transactions are grouped by their
    ``payment_info_id`` into ``OrgnlPmtInfAndSts`` blocks, in the order given.
    """
    _check_text(message_id, "message_id", 35)
    _check_aware(created_at, "created_at")
    _check_text(original_message_id, "original_message_id", 35)
    _check_text(original_message_type, "original_message_type", 35)
    if original_created_at is not None:
        _check_aware(original_created_at, "original_created_at")
    if group_status is not None and group_status not in GROUP_STATUSES:
        raise InvalidInput(Iso20022Error.GROUP_STATUS, status=group_status, choices=OneOf(sorted(GROUP_STATUSES)))
    _check_reason(group_reason_code, "group_reason_code")
    if group_status == "RJCT" and not group_reason_code:
        raise InvalidInput(Iso20022Error.GROUP_REJECTION_REASON)
    transactions = list(transactions)
    if group_status is None and not transactions:
        raise InvalidInput(Iso20022Error.EMPTY_REPORT)
    for t in transactions:
        if not isinstance(t, TransactionStatus):
            raise InvalidInput(Iso20022Error.WRONG_ITEMS, field="transactions", kind="TransactionStatus")

    b = _Builder(PAIN002, "CstmrPmtStsRpt")
    hdr = b.sub(b.top, "GrpHdr")
    b.sub(hdr, "MsgId", message_id)
    b.sub(hdr, "CreDtTm", _iso_datetime(created_at))
    grp = b.sub(b.top, "OrgnlGrpInfAndSts")
    b.sub(grp, "OrgnlMsgId", original_message_id)
    b.sub(grp, "OrgnlMsgNmId", original_message_type)
    if original_created_at is not None:
        b.sub(grp, "OrgnlCreDtTm", _iso_datetime(original_created_at))
    if group_status is not None:
        b.sub(grp, "GrpSts", group_status)
        _status_reason(b, grp, group_reason_code, "")
    blocks: OrderedDict[str, list[TransactionStatus]] = OrderedDict()
    for t in transactions:
        blocks.setdefault(t.payment_info_id or original_message_id, []).append(t)
    for payment_info_id, group in blocks.items():
        block = b.sub(b.top, "OrgnlPmtInfAndSts")
        b.sub(block, "OrgnlPmtInfId", payment_info_id)
        for t in group:
            _transaction_status(b, block, t)
    return b.finish()


def _status_reason(b: _Builder, parent: etree._Element, code: str, info: str) -> None:
    if not code and not info:
        return
    reason = b.sub(parent, "StsRsnInf")
    if code:
        b.path(reason, "Rsn/Cd", code)
    if info:
        b.sub(reason, "AddtlInf", info)


def _transaction_status(b: _Builder, parent: etree._Element, t: TransactionStatus) -> None:
    tx = b.sub(parent, "TxInfAndSts")
    b.sub(tx, "OrgnlEndToEndId", t.end_to_end_id)
    b.sub(tx, "TxSts", t.status)
    _status_reason(b, tx, t.reason_code, t.additional_info)
    if t.bank_reference:
        b.sub(tx, "AcctSvcrRef", t.bank_reference)
    if t.amount_fen is not None:
        ref = b.sub(tx, "OrgnlTxRef")
        b.amount(b.sub(ref, "Amt"), "InstdAmt", t.amount_fen, t.currency)


# --- camt.054: debit and credit notifications (bank → platform) ---------------------------------


@dataclass(frozen=True, slots=True)
class NotificationEntry:
    """One booking on the custody account as the bank notifies it.

    A credit (``CRDT``) is money in: ``counterparty_*`` is the payer, ``creditor_reference`` what the
    payer quoted (the member's reference or virtual sub-account number) and ``virtual_account`` the
    member's virtual sub-account when the bank recognised the reference ("" when it did not: the money
    is still on the custody account). A debit (``DBIT``) is a payment out: ``counterparty_*`` is the
    payee. ``return_reason`` (a credit only) marks a payment that came back; ``end_to_end_id`` is then
    the EndToEndId of the payment that came back.
    """

    bank_reference: str
    end_to_end_id: str
    amount_fen: int
    direction: Direction
    booked_at: datetime
    value_date: date
    counterparty_name: str = ""
    counterparty_account: str = ""
    creditor_reference: str = ""
    virtual_account: str = ""
    remittance_info: str = ""
    return_reason: str = ""

    def __post_init__(self) -> None:
        _check_text(self.bank_reference, "bank_reference", 35)
        _check_text(self.end_to_end_id, "end_to_end_id", 35)
        _check_amount(self.amount_fen, "amount_fen")
        if self.direction not in ("CRDT", "DBIT"):
            raise InvalidInput(Iso20022Error.DIRECTION, direction=self.direction)
        _check_aware(self.booked_at, "booked_at")
        if not isinstance(self.value_date, date) or isinstance(self.value_date, datetime):
            raise InvalidInput(Iso20022Error.NOT_DATE, field="value_date")
        _check_text(self.counterparty_name, "counterparty_name", 140, required=False)
        _check_text(self.counterparty_account, "counterparty_account", 34, required=False)
        _check_text(self.creditor_reference, "creditor_reference", 35, required=False)
        _check_text(self.virtual_account, "virtual_account", 34, required=False)
        _check_text(self.remittance_info, "remittance_info", 10_000, required=False)
        _check_reason(self.return_reason, "return_reason")
        if self.direction == "DBIT" and (self.virtual_account or self.return_reason or self.creditor_reference):
            raise InvalidInput(Iso20022Error.DEBIT_EXTRAS)

    @property
    def signed_fen(self) -> int:
        return self.amount_fen if self.direction == "CRDT" else -self.amount_fen


@dataclass(frozen=True, slots=True)
class Notification:
    """A parsed, schema-valid camt.054 with one account notification."""

    message_id: str
    created_at: datetime
    notification_id: str
    account_id: str
    currency: str
    entries: tuple[NotificationEntry, ...]
    sequence_number: int | None = None


def build_camt054(
    *,
    message_id: str,
    created_at: datetime,
    account_id: str,
    currency: str = "CNY",
    entries: Sequence[NotificationEntry],
    sequence_number: int | None = None,
) -> bytes:
    """Build a schema-valid ``camt.054.001.08`` notifying ``entries`` booked on ``account_id``.

    The notification's ``Id`` is the message id; ``sequence_number`` (the bank's outbox number) is
    written as ``ElctrncSeqNb``.
    """
    _check_text(message_id, "message_id", 35)
    _check_aware(created_at, "created_at")
    _check_text(account_id, "account_id", 34)
    _check_currency(currency)
    _check_sequence_number(sequence_number)
    entries = list(entries)
    if not entries:
        raise InvalidInput(Iso20022Error.EMPTY_NOTIFICATION)
    for e in entries:
        if not isinstance(e, NotificationEntry):
            raise InvalidInput(Iso20022Error.WRONG_ITEMS, field="entries", kind="NotificationEntry")

    b = _Builder(CAMT054, "BkToCstmrDbtCdtNtfctn")
    hdr = b.sub(b.top, "GrpHdr")
    b.sub(hdr, "MsgId", message_id)
    b.sub(hdr, "CreDtTm", _iso_datetime(created_at))
    ntfctn = b.sub(b.top, "Ntfctn")
    b.sub(ntfctn, "Id", message_id)
    if sequence_number is not None:
        b.sub(ntfctn, "ElctrncSeqNb", str(sequence_number))
    b.sub(ntfctn, "CreDtTm", _iso_datetime(created_at))
    b.account(ntfctn, "Acct", account_id, currency)
    for e in entries:
        _notification_entry(b, ntfctn, e, currency)
    return b.finish()


def _notification_entry(b: _Builder, parent: etree._Element, e: NotificationEntry, currency: str) -> None:
    ntry = b.sub(parent, "Ntry")
    b.amount(ntry, "Amt", e.amount_fen, currency)
    b.sub(ntry, "CdtDbtInd", e.direction)
    b.path(ntry, "Sts/Cd", "BOOK")
    b.path(ntry, "BookgDt/DtTm", _iso_datetime(e.booked_at))
    b.path(ntry, "ValDt/Dt", e.value_date.isoformat())
    b.sub(ntry, "AcctSvcrRef", e.bank_reference)
    if e.return_reason:  # a payment we issued came back: PMNT / ICDT / RRTN (reversal due to return)
        _bank_transaction_code(b, ntry, "ICDT", "RRTN")
    else:
        _bank_transaction_code(b, ntry, "RCDT" if e.direction == "CRDT" else "ICDT", "DMCT")
    tx = b.path(ntry, "NtryDtls/TxDtls")
    refs = b.sub(tx, "Refs")
    b.sub(refs, "AcctSvcrRef", e.bank_reference)
    b.sub(refs, "EndToEndId", e.end_to_end_id)
    b.amount(tx, "Amt", e.amount_fen, currency)
    b.sub(tx, "CdtDbtInd", e.direction)
    _related_parties(b, tx, e)
    _notification_remittance(b, tx, e)
    if e.return_reason:
        b.path(tx, "RtrInf/Rsn/Cd", e.return_reason)


def _related_parties(b: _Builder, tx: etree._Element, e: NotificationEntry) -> None:
    if not (e.counterparty_name or e.counterparty_account or e.virtual_account):
        return
    parties = b.sub(tx, "RltdPties")
    role = "Dbtr" if e.direction == "CRDT" else "Cdtr"
    if e.counterparty_name:
        b.path(parties, f"{role}/Pty/Nm", e.counterparty_name)
    if e.counterparty_account:
        b.account(parties, f"{role}Acct", e.counterparty_account)
    if e.virtual_account:
        b.account(parties, "CdtrAcct", e.virtual_account)


def _notification_remittance(b: _Builder, tx: etree._Element, e: NotificationEntry) -> None:
    if not (e.remittance_info or e.creditor_reference):
        return
    rmt = b.sub(tx, "RmtInf")
    for start in range(0, len(e.remittance_info), _USTRD_LEN):
        b.sub(rmt, "Ustrd", e.remittance_info[start : start + _USTRD_LEN])
    if e.creditor_reference:
        b.path(rmt, "Strd/CdtrRefInf/Ref", e.creditor_reference)


# --- streaming camt.053 (statements of any size) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementSummary:
    """What a streamed camt.053 said, without its entries (they went by one at a time)."""

    statement_id: str
    account_id: str
    currency: str
    opening_balance_fen: int
    closing_balance_fen: int
    electronic_sequence_number: int | None
    legal_sequence_number: int | None
    entry_count: int
    credits_fen: int
    debits_fen: int


def write_camt053(
    path: str | os.PathLike[str],
    *,
    statement_id: str,
    created_at: datetime,
    account_id: str,
    currency: str = "CNY",
    opening_balance_fen: int,
    closing_balance_fen: int,
    entries: Iterable[StatementEntry],
    from_to: tuple[datetime, datetime],
    sequence_number: int | None = None,
) -> StatementSummary:
    """Write a ``camt.053.001.08`` of any number of entries to ``path``, one entry at a time.

    The same document :func:`build_camt053` builds, streamed: the balances come before the entries
    in the message, so the caller states the closing balance and the writer checks, after the last
    entry, that opening + credits − debits equals it. The written file is then validated against the
    schema and read back by :class:`Camt053Reader` (streaming). On any error the file is removed.
    """
    _check_statement_header(statement_id, created_at, account_id, currency, opening_balance_fen)
    if isinstance(closing_balance_fen, bool) or not isinstance(closing_balance_fen, int):
        raise InvalidInput(Iso20022Error.NOT_FEN, field="closing_balance_fen")
    if max(abs(opening_balance_fen), abs(closing_balance_fen)) > MAX_FEN:
        raise InvalidInput(Iso20022Error.BALANCE_TOO_LARGE)
    start, end = _check_period(from_to)
    _check_sequence_number(sequence_number)
    target = Path(path)
    try:
        total = _stream_statement(target, statement_id=statement_id, created_at=created_at,
                                  account_id=account_id, currency=currency, sequence_number=sequence_number,
                                  opening=opening_balance_fen, closing=closing_balance_fen,
                                  entries=entries, start=start, end=end)
        if opening_balance_fen + total != closing_balance_fen:
            raise InvalidInput(
                Iso20022Error.CLOSING_GIVEN, opening=format_yuan(opening_balance_fen),
                computed=format_yuan(opening_balance_fen + total), closing=format_yuan(closing_balance_fen)
            )
        reader = Camt053Reader(target)
        for _entry in reader:
            pass
        assert reader.summary is not None
        return reader.summary
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _stream_statement(
    target: Path, *, statement_id: str, created_at: datetime, account_id: str, currency: str,
    sequence_number: int | None, opening: int, closing: int, entries: Iterable[StatementEntry],
    start: datetime, end: datetime,
) -> int:
    """Write the document; returns Σ signed entry amounts."""
    b = _Builder(CAMT053, "BkToCstmrStmt")
    stmt = _statement_head(b, b.top, statement_id=statement_id, created_at=created_at,
                           sequence_number=sequence_number, start=start, end=end, account_id=account_id,
                           currency=currency, opening_balance_fen=opening, closing_fen=closing)
    header = b.top[0]
    total = 0
    with target.open("wb") as fh, etree.xmlfile(fh, encoding="UTF-8", buffered=True) as xf:
        xf.write_declaration()
        with xf.element(b._q("Document"), nsmap={None: b.ns}), xf.element(b._q("BkToCstmrStmt")):
            xf.write(header)
            with xf.element(b._q("Stmt")):
                for child in stmt:
                    xf.write(child)
                for i, e in enumerate(entries):
                    _check_statement_entry(e, i, start, end)
                    total += e.signed_fen
                    xf.write(_statement_entry_element(b, e, currency))
    return total


class Camt053Reader:
    """Read a ``camt.053.001.08`` statement of any size with bounded memory.

    Iterating yields its entries in order while lxml's ``iterparse`` validates the document against
    the schema as it goes; each entry is dropped once read. After the last entry the reader checks
    opening + credits − debits = closing and sets :attr:`summary`. Errors are :class:`InvalidInput`,
    as for :func:`parse_camt053` (which reads the same documents into memory). An error can come
    after some entries went by: treat them as provisional until the iteration ends (stage them and
    commit once it has).
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO) -> None:
        self._source = source
        self.summary: StatementSummary | None = None

    def __iter__(self) -> Iterator[StatementEntry]:
        ns = _NS[CAMT053]
        stmt_tag, ntry_tag = f"{{{ns}}}Stmt", f"{{{ns}}}Ntry"
        r = _Reader(ns, "camt.053")
        source = os.fspath(self._source) if isinstance(self._source, str | os.PathLike) else self._source
        events = etree.iterparse(source, events=("end",), tag=(stmt_tag, ntry_tag), schema=_schema(CAMT053),
                                 resolve_entities=False, no_network=True, load_dtd=False)
        head: _StatementHead | None = None
        stmt: etree._Element | None = None  # lxml keeps one proxy per node while it is referenced
        entries = count = credits = debits = 0
        try:
            for _event, element in events:
                parent = element if element.tag == stmt_tag else element.getparent()
                if stmt is None:
                    stmt, head = parent, _read_statement_head(r, parent)
                elif parent is not stmt:
                    raise InvalidInput(Iso20022Error.STATEMENTS_MORE)
                if element is stmt:
                    continue
                assert head is not None
                entries += 1
                for entry in _read_statement_entry(r, element, entries, head.currency):
                    count += 1
                    if entry.direction == "CRDT":
                        credits += entry.amount_fen
                    else:
                        debits += entry.amount_fen
                    yield entry
                element.clear()
                parent.remove(element)
        except etree.XMLSyntaxError as exc:
            raise InvalidInput(Iso20022Error.NOT_WELL_FORMED_OR_VALID, schema=CAMT053, error=exc) from exc
        if head is None:
            raise InvalidInput(Iso20022Error.STATEMENTS_NONE)
        _check_closing(head.opening, head.opening + credits - debits, head.closing)
        self.summary = StatementSummary(
            statement_id=head.statement_id, account_id=head.account_id, currency=head.currency,
            opening_balance_fen=head.opening, closing_balance_fen=head.closing,
            electronic_sequence_number=head.electronic_sequence_number,
            legal_sequence_number=head.legal_sequence_number,
            entry_count=count, credits_fen=credits, debits_fen=debits,
        )


# --- parsing ------------------------------------------------------------------------------------


class _Reader:
    """ElementPath look-ups in one message's namespace (prefix ``c``); ``msg`` starts error messages."""

    def __init__(self, ns: str, msg: str) -> None:
        self.ns = ns
        self.msg = msg
        self._paths: dict[str, str] = {}

    def _clark(self, path: str) -> str:
        """``c:A/c:B`` as ``{ns}A/{ns}B``: lxml finds those without a namespace map, much faster."""
        clark = self._paths.get(path)
        if clark is None:
            clark = self._paths[path] = path.replace("c:", f"{{{self.ns}}}")
        return clark

    def all(self, element: etree._Element, path: str) -> list[etree._Element]:
        return element.findall(self._clark(path))

    def one(self, element: etree._Element, path: str, what: str) -> etree._Element:
        found = self.all(element, path)
        if len(found) != 1:
            raise InvalidInput(Iso20022Error.EXACTLY_ONE, msg=self.msg, what=where(what), found=len(found))
        return found[0]

    def text(self, element: etree._Element, path: str) -> str | None:
        found = element.find(self._clark(path))
        return (found.text or "").strip() if found is not None else None

    def kids(self, element: etree._Element) -> _Kids:
        return _Kids(element, len(self.ns) + 2)

    def account(self, element: etree._Element, path: str) -> str:
        """The IBAN or other identification of the account at ``path`` ("" when absent)."""
        return self.text(element, f"{path}/c:Id/c:IBAN") or self.text(element, f"{path}/c:Id/c:Othr/c:Id") or ""

    def remittance(self, element: etree._Element) -> str:
        return "".join(u.text or "" for u in self.all(element, "c:RmtInf/c:Ustrd"))

    def number(self, element: etree._Element, path: str) -> int | None:
        text = self.text(element, path)
        return None if text is None else int(text)  # the schema allows digits only


class _Kids:
    """The children of one element by local name, read in one pass: the fast path for the entries of
    a statement (one ``find`` per field costs more than the parsing itself)."""

    __slots__ = ("_map",)

    def __init__(self, element: etree._Element, prefix_len: int) -> None:
        found: dict[str, list[etree._Element]] = {}
        for child in element:
            tag = child.tag
            if isinstance(tag, str):  # not a comment or processing instruction
                found.setdefault(tag[prefix_len:], []).append(child)
        self._map = found

    def all(self, name: str) -> list[etree._Element]:
        return self._map.get(name, [])

    def first(self, name: str) -> etree._Element | None:
        found = self._map.get(name)
        return found[0] if found else None

    def text(self, name: str) -> str | None:
        found = self._map.get(name)
        return (found[0].text or "").strip() if found else None


def _fen(text: str, what: str, msg: str, *, allow_zero: bool) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidInput(Iso20022Error.NOT_DECIMAL, msg=msg, what=where(what), text=text) from exc
    return parse_yuan(value, field=f"{msg}: {what}", allow_zero=allow_zero)


def _parse_amount(element: etree._Element, currency: str, what: str, *, allow_zero: bool, msg: str = "camt.053") -> int:
    ccy = element.get("Ccy")
    if ccy != currency:
        raise InvalidInput(Iso20022Error.WRONG_CURRENCY, msg=msg, what=where(what), currency=ccy, expected=currency)
    return _fen((element.text or "").strip(), what, msg, allow_zero=allow_zero)


def _parse_moment(text: str, what: str, msg: str = "camt.053") -> datetime:
    try:
        if "T" in text:
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)
        return start_of_business_day(date.fromisoformat(text)).astimezone(CHINA_TZ)
    except ValueError as exc:
        raise InvalidInput(Iso20022Error.NOT_MOMENT, msg=msg, what=where(what), text=text) from exc


def _parse_day(element: etree._Element, r: _Reader, what: str) -> date:
    """A DateAndDateTime2Choice: ``Dt`` as is, ``DtTm`` as its business day in China."""
    day = r.text(element, "c:Dt")
    if day is not None:
        try:
            return date.fromisoformat(day)
        except ValueError as exc:
            raise InvalidInput(Iso20022Error.NOT_ISO_DATE, msg=r.msg, what=where(what), day=day) from exc
    moment = r.text(element, "c:DtTm")
    if moment is None:
        raise InvalidInput(Iso20022Error.NO_DATE, msg=r.msg, what=where(what))
    return _parse_moment(moment, what, r.msg).astimezone(CHINA_TZ).date()


def _direction(text: str | None, what: str, msg: str = "camt.053") -> Direction:
    if text not in ("CRDT", "DBIT"):
        raise InvalidInput(Iso20022Error.INDICATOR, msg=msg, what=where(what), text=text)
    return text  # type: ignore[return-value]


def _check_closing(opening: int, computed: int, closing: int) -> None:
    if computed != closing:
        raise InvalidInput(
            Iso20022Error.CLOSING_SAYS, opening=format_yuan(opening), computed=format_yuan(computed),
            closing=format_yuan(closing),
            details={"opening": format_yuan(opening), "computed_closing": format_yuan(computed),
                     "stated_closing": format_yuan(closing)},
        )


@dataclass(frozen=True, slots=True)
class _StatementHead:
    statement_id: str
    account_id: str
    currency: str
    opening: int
    closing: int
    electronic_sequence_number: int | None
    legal_sequence_number: int | None


def _read_statement_head(r: _Reader, stmt: etree._Element) -> _StatementHead:
    balances: dict[str, etree._Element] = {}
    for bal in r.all(stmt, "c:Bal"):
        code = r.text(bal, "c:Tp/c:CdOrPrtry/c:Cd")
        if code in ("OPBD", "PRCD", "CLBD"):
            if code in balances:
                raise InvalidInput(Iso20022Error.BALANCE_TWICE, code=code)
            balances[code] = bal
    opening_bal = balances.get("OPBD", balances.get("PRCD"))
    closing_bal = balances.get("CLBD")
    if opening_bal is None or closing_bal is None:
        raise InvalidInput(Iso20022Error.BALANCES_NEEDED)
    currency = r.text(stmt, "c:Acct/c:Ccy") or r.one(opening_bal, "c:Amt", "balance amount").get("Ccy")
    _check_currency(currency)

    def balance(bal: etree._Element, what: str) -> int:
        fen = _parse_amount(r.one(bal, "c:Amt", f"{what} amount"), currency, what, allow_zero=True)
        return -fen if _direction(r.text(bal, "c:CdtDbtInd"), what) == "DBIT" else fen

    return _StatementHead(
        statement_id=r.text(stmt, "c:Id") or "",
        account_id=r.account(stmt, "c:Acct"),
        currency=currency,
        opening=balance(opening_bal, "opening balance"),
        closing=balance(closing_bal, "closing balance"),
        electronic_sequence_number=r.number(stmt, "c:ElctrncSeqNb"),
        legal_sequence_number=r.number(stmt, "c:LglSeqNb"),
    )


def _booked_entry_basics(r: _Reader, ntry: _Kids, what: str, currency: str) -> tuple[int, Direction, datetime]:
    """Amount, direction and booking time of a booked camt.053/camt.054 ``<Ntry>``."""
    sts = ntry.first("Sts")
    sts_kids = r.kids(sts) if sts is not None else None
    status = (sts_kids.text("Cd") or sts_kids.text("Prtry")) if sts_kids is not None else None
    if status != "BOOK":
        raise InvalidInput(Iso20022Error.NOT_BOOKED, msg=r.msg, what=where(what), status=status)
    amounts = ntry.all("Amt")
    if len(amounts) != 1:
        raise InvalidInput(Iso20022Error.EXACTLY_ONE_AMOUNT, msg=r.msg, what=where(what), found=len(amounts))
    amount = _parse_amount(amounts[0], currency, f"{what} amount", allow_zero=False, msg=r.msg)
    direction = _direction(ntry.text("CdtDbtInd"), what, r.msg)
    booking = ntry.first("BookgDt")
    booking_kids = r.kids(booking) if booking is not None else None
    booked_text = (booking_kids.text("DtTm") or booking_kids.text("Dt")) if booking_kids is not None else None
    if not booked_text:
        raise InvalidInput(Iso20022Error.NO_BOOKING_DATE, msg=r.msg, what=where(what))
    return amount, direction, _parse_moment(booked_text, f"{what} booking date", r.msg)


def _transaction_amount(
    r: _Reader, tx: _Kids, txs: int, entry_amount: int, direction: Direction, currency: str, what: str
) -> int:
    amt_el = tx.first("Amt")
    if amt_el is not None:
        amount = _parse_amount(amt_el, currency, f"{what} amount", allow_zero=False, msg=r.msg)
    elif txs == 1:
        amount = entry_amount
    else:
        raise InvalidInput(Iso20022Error.NO_TRANSACTION_AMOUNT, msg=r.msg, what=where(what))
    if _direction(tx.text("CdtDbtInd") or direction, what, r.msg) != direction:
        raise InvalidInput(Iso20022Error.OTHER_WAY, msg=r.msg, what=where(what))
    return amount


def _local_children(element: etree._Element, prefix_len: int) -> Iterator[tuple[str, etree._Element]]:
    for child in element:
        tag = child.tag
        if isinstance(tag, str):  # not a comment or processing instruction
            yield tag[prefix_len:], child


def _first_child_text(element: etree._Element, prefix_len: int, *names: str) -> str | None:
    """Text of the first child named one of ``names`` (in that preference), stripped."""
    found = {name: child for name, child in _local_children(element, prefix_len) if name in names}
    for name in names:
        if name in found:
            return (found[name].text or "").strip()
    return None


def _statement_amount(element: etree._Element, currency: str, what: str) -> int:
    """Like :func:`_parse_amount`; the plain "123.45" form takes the quick way."""
    if element.get("Ccy") != currency:
        return _parse_amount(element, currency, what, allow_zero=False)
    text = element.text or ""
    try:
        return parse_yuan(text, field=f"camt.053: {what}")
    except InvalidInput:
        return _fen(text.strip(), what, "camt.053", allow_zero=False)  # "9.00000", or the precise refusal


@dataclass(slots=True)
class _TxFields:
    amount: etree._Element | None = None
    direction: str | None = None
    end_to_end_id: str | None = None
    bank_reference: str | None = None
    remittance: str = ""


def _statement_tx(tx: etree._Element, prefix_len: int) -> _TxFields:
    fields = _TxFields()
    for name, child in _local_children(tx, prefix_len):
        if name == "Amt":
            fields.amount = child
        elif name == "CdtDbtInd":
            fields.direction = (child.text or "").strip()
        elif name == "Refs":
            for ref_name, ref in _local_children(child, prefix_len):
                if ref_name == "EndToEndId":
                    fields.end_to_end_id = (ref.text or "").strip()
                elif ref_name == "AcctSvcrRef":
                    fields.bank_reference = (ref.text or "").strip()
        elif name == "RmtInf":
            fields.remittance = "".join(u.text or "" for u_name, u in _local_children(child, prefix_len)
                                        if u_name == "Ustrd")
    return fields


def _read_statement_entry(r: _Reader, ntry: etree._Element, n: int, currency: str) -> list[StatementEntry]:
    """One booked ``<Ntry>`` of a statement, its children read in a single pass (the hot path of a
    1,000,000-line day: a ``find`` per field would cost more than parsing the XML)."""
    what = f"entry {n}"
    prefix_len = len(r.ns) + 2
    amounts: list[etree._Element] = []
    direction_text = status = booked_text = None
    entry_ref = ""
    txs: list[etree._Element] = []
    for name, child in _local_children(ntry, prefix_len):
        if name == "Amt":
            amounts.append(child)
        elif name == "CdtDbtInd":
            direction_text = (child.text or "").strip()
        elif name == "Sts":
            status = _first_child_text(child, prefix_len, "Cd", "Prtry")
        elif name == "BookgDt":
            booked_text = _first_child_text(child, prefix_len, "DtTm", "Dt")
        elif name == "AcctSvcrRef":
            entry_ref = (child.text or "").strip()
        elif name == "NtryDtls":
            txs.extend(tx for tx_name, tx in _local_children(child, prefix_len) if tx_name == "TxDtls")
    if status != "BOOK":
        raise InvalidInput(Iso20022Error.NOT_BOOKED, msg="camt.053", what=where(what), status=status)
    if len(amounts) != 1:
        raise InvalidInput(Iso20022Error.EXACTLY_ONE_AMOUNT, msg="camt.053", what=where(what), found=len(amounts))
    amount = _statement_amount(amounts[0], currency, f"{what} amount")
    direction = _direction(direction_text, what)
    if not booked_text:
        raise InvalidInput(Iso20022Error.NO_BOOKING_DATE, msg="camt.053", what=where(what))
    booked_at = _parse_moment(booked_text, f"{what} booking date")
    if not txs:
        return [StatementEntry(NOT_PROVIDED, amount, direction, booked_at, "", entry_ref)]
    parts: list[StatementEntry] = []
    for k, tx in enumerate(txs, start=1):
        tx_what = f"{what} transaction {k}"
        fields = _statement_tx(tx, prefix_len)
        if fields.amount is not None:
            same = fields.amount.text == amounts[0].text and fields.amount.get("Ccy") == currency
            tx_amount = amount if same else _statement_amount(fields.amount, currency, f"{tx_what} amount")
        elif len(txs) == 1:
            tx_amount = amount
        else:
            raise InvalidInput(Iso20022Error.NO_TRANSACTION_AMOUNT, msg="camt.053", what=where(tx_what))
        if _direction(fields.direction or direction, tx_what) != direction:
            raise InvalidInput(Iso20022Error.OTHER_WAY, msg="camt.053", what=where(tx_what))
        parts.append(StatementEntry(fields.end_to_end_id or NOT_PROVIDED, tx_amount, direction, booked_at,
                                    fields.remittance, fields.bank_reference or entry_ref))
    if sum(p.amount_fen for p in parts) != amount:
        raise InvalidInput(Iso20022Error.TRANSACTIONS_SUM, msg="camt.053", what=where(what))
    return parts


def parse_camt053(xml: bytes) -> Statement:
    """Validate and read a ``camt.053.001.08`` statement holding exactly one account statement.

    Raises :class:`InvalidInput` when the XML is malformed or not schema-valid, when an entry is not
    booked (status other than BOOK), when amounts are in another currency than the account or finer
    than one fen, or when opening + credits − debits ≠ closing. An entry whose transaction details
    list several transactions (batch booking) yields one :class:`StatementEntry` per transaction;
    their amounts must add up to the entry's amount. A missing EndToEndId reads as "NOTPROVIDED".
    """
    root = validate(xml, CAMT053)
    r = _Reader(_NS[CAMT053], "camt.053")
    stmt = r.one(root, "c:BkToCstmrStmt/c:Stmt", "<Stmt> (account statement)")
    head = _read_statement_head(r, stmt)
    entries: list[StatementEntry] = []
    for n, ntry in enumerate(r.all(stmt, "c:Ntry"), start=1):
        entries.extend(_read_statement_entry(r, ntry, n, head.currency))
    _check_closing(head.opening, head.opening + sum(e.signed_fen for e in entries), head.closing)
    return Statement(
        statement_id=head.statement_id,
        account_id=head.account_id,
        currency=head.currency,
        opening_balance_fen=head.opening,
        closing_balance_fen=head.closing,
        entries=tuple(entries),
        electronic_sequence_number=head.electronic_sequence_number,
        legal_sequence_number=head.legal_sequence_number,
    )


# --- pain.001 read by the bank ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentBlock:
    """One ``PmtInf`` of a pain.001: payments from one account on one requested date."""

    payment_info_id: str
    requested_date: date
    debtor_name: str
    debtor_account: str
    payments: tuple[PaymentInstruction, ...]


@dataclass(frozen=True, slots=True)
class PaymentInitiation:
    """A parsed, schema-valid, arithmetically consistent pain.001."""

    message_id: str
    created_at: datetime
    initiating_party: str
    blocks: tuple[PaymentBlock, ...]

    @property
    def payments(self) -> tuple[PaymentInstruction, ...]:
        return tuple(p for block in self.blocks for p in block.payments)

    @property
    def control_sum_fen(self) -> int:
        return sum(p.amount_fen for p in self.payments)


def _check_count_and_sum(r: _Reader, element: etree._Element, payments: Sequence[PaymentInstruction], what: str) -> None:
    stated = r.text(element, "c:NbOfTxs")
    if stated is not None and int(stated) != len(payments):
        raise InvalidInput(Iso20022Error.PAIN001_COUNT, what=where(what), stated=stated, held=len(payments))
    control = r.text(element, "c:CtrlSum")
    if control is not None:
        total = sum(p.amount_fen for p in payments)
        if _fen(control, f"{what} control sum", "pain.001", allow_zero=True) != total:
            raise InvalidInput(Iso20022Error.PAIN001_CONTROL_SUM, what=where(what), control=control, total=format_yuan(total))


def _read_payment(r: _Reader, tx: etree._Element, requested: date, what: str) -> PaymentInstruction:
    if r.all(tx, "c:Amt/c:EqvtAmt"):
        raise InvalidInput(Iso20022Error.PAIN001_EQUIVALENT, what=where(what))
    amt = r.one(tx, "c:Amt/c:InstdAmt", f"{what} instructed amount")
    currency = amt.get("Ccy") or ""
    _check_currency(currency)
    amount = _fen((amt.text or "").strip(), f"{what} amount", "pain.001", allow_zero=False)
    creditor_name = r.text(tx, "c:Cdtr/c:Nm")
    account = r.account(tx, "c:CdtrAcct")
    if not creditor_name or not account:
        raise InvalidInput(Iso20022Error.PAIN001_CREDITOR, what=where(what))
    return PaymentInstruction(
        end_to_end_id=r.text(tx, "c:PmtId/c:EndToEndId") or "",
        amount_fen=amount,
        creditor_name=creditor_name,
        creditor_account=account,
        remittance_info=r.remittance(tx),
        requested_date=requested,
        currency=currency,
    )


def parse_pain001(xml: bytes) -> PaymentInitiation:
    """Validate and read a ``pain.001.001.09`` (the bank's side of :func:`build_pain001`).

    Refuses a message that is not schema-valid, whose ``NbOfTxs`` or ``CtrlSum`` (of the message or of
    a block) do not match its payments, that repeats an EndToEndId, gives an amount finer than one
    fen or an equivalent amount instead of the instructed one, or a payment without the creditor's
    name and account.
    """
    root = validate(xml, PAIN001)
    r = _Reader(_NS[PAIN001], "pain.001")
    top = r.one(root, "c:CstmrCdtTrfInitn", "<CstmrCdtTrfInitn>")
    hdr = r.one(top, "c:GrpHdr", "<GrpHdr>")
    blocks: list[PaymentBlock] = []
    seen: set[str] = set()
    for n, pmt in enumerate(r.all(top, "c:PmtInf"), start=1):
        requested = _parse_day(r.one(pmt, "c:ReqdExctnDt", f"block {n} execution date"), r, f"block {n} execution date")
        payments = []
        for k, tx in enumerate(r.all(pmt, "c:CdtTrfTxInf"), start=1):
            payment = _read_payment(r, tx, requested, f"block {n} payment {k}")
            if payment.end_to_end_id in seen:
                raise InvalidInput(Iso20022Error.PAIN001_END_TO_END_TWICE, id=payment.end_to_end_id)
            seen.add(payment.end_to_end_id)
            payments.append(payment)
        _check_count_and_sum(r, pmt, payments, f"block {n}")
        blocks.append(PaymentBlock(
            payment_info_id=r.text(pmt, "c:PmtInfId") or "",
            requested_date=requested,
            debtor_name=r.text(pmt, "c:Dbtr/c:Nm") or "",
            debtor_account=r.account(pmt, "c:DbtrAcct"),
            payments=tuple(payments),
        ))
    _check_count_and_sum(r, hdr, [p for b in blocks for p in b.payments], "the message")
    return PaymentInitiation(
        message_id=r.text(hdr, "c:MsgId") or "",
        created_at=_parse_moment(r.text(hdr, "c:CreDtTm") or "", "creation time", "pain.001"),
        initiating_party=r.text(hdr, "c:InitgPty/c:Nm") or "",
        blocks=tuple(blocks),
    )


# --- pain.002 read by the platform --------------------------------------------------------------


def _read_reason(r: _Reader, element: etree._Element) -> tuple[str, str]:
    """(reason code, additional information) of the first ``StsRsnInf`` under ``element``."""
    reasons = r.all(element, "c:StsRsnInf")
    if not reasons:
        return "", ""
    code = r.text(reasons[0], "c:Rsn/c:Cd") or ""
    info = " ".join(i.text or "" for i in r.all(reasons[0], "c:AddtlInf"))
    return code, info


def _read_transaction_status(r: _Reader, tx: etree._Element, payment_info_id: str) -> TransactionStatus:
    e2e = r.text(tx, "c:OrgnlEndToEndId")
    status = r.text(tx, "c:TxSts")
    if not e2e or not status:
        raise InvalidInput(Iso20022Error.PAIN002_TRANSACTION)
    code, info = _read_reason(r, tx)
    amount_fen: int | None = None
    currency = "CNY"
    amt = r.all(tx, "c:OrgnlTxRef/c:Amt/c:InstdAmt")
    if amt:
        currency = amt[0].get("Ccy") or ""
        _check_currency(currency)
        amount_fen = _fen((amt[0].text or "").strip(), f"amount of {e2e}", "pain.002", allow_zero=False)
    try:
        return TransactionStatus(
            end_to_end_id=e2e, status=status, reason_code=code, additional_info=info[:105],
            amount_fen=amount_fen, currency=currency, bank_reference=r.text(tx, "c:AcctSvcrRef") or "",
            payment_info_id=payment_info_id,
        )
    except InvalidInput as exc:
        raise InvalidInput(Iso20022Error.PAIN002_INNER, error=inner(exc)) from exc


def parse_pain002(xml: bytes) -> PaymentStatusReport:
    """Validate and read a ``pain.002.001.12`` status report (the platform's side of :func:`build_pain002`).

    Refuses a report that is not schema-valid, whose statuses are not ones the platform understands,
    whose amounts are finer than one fen, or that carries neither a group status nor any transaction
    status. A transaction rejected without a reason code is refused too: the platform must be able to
    say why a payment failed.
    """
    root = validate(xml, PAIN002)
    r = _Reader(_NS[PAIN002], "pain.002")
    top = r.one(root, "c:CstmrPmtStsRpt", "<CstmrPmtStsRpt>")
    hdr = r.one(top, "c:GrpHdr", "<GrpHdr>")
    grp = r.one(top, "c:OrgnlGrpInfAndSts", "<OrgnlGrpInfAndSts>")
    group_status = r.text(grp, "c:GrpSts") or ""
    if group_status and group_status not in GROUP_STATUSES:
        raise InvalidInput(Iso20022Error.PAIN002_GROUP_STATUS, status=group_status, choices=OneOf(sorted(GROUP_STATUSES)))
    group_reason, _info = _read_reason(r, grp)
    transactions = [
        _read_transaction_status(r, tx, r.text(block, "c:OrgnlPmtInfId") or "")
        for block in r.all(top, "c:OrgnlPmtInfAndSts")
        for tx in r.all(block, "c:TxInfAndSts")
    ]
    if not group_status and not transactions:
        raise InvalidInput(Iso20022Error.PAIN002_EMPTY)
    return PaymentStatusReport(
        message_id=r.text(hdr, "c:MsgId") or "",
        created_at=_parse_moment(r.text(hdr, "c:CreDtTm") or "", "creation time", "pain.002"),
        original_message_id=r.text(grp, "c:OrgnlMsgId") or "",
        original_message_type=r.text(grp, "c:OrgnlMsgNmId") or "",
        group_status=group_status,
        group_reason_code=group_reason,
        transactions=tuple(transactions),
    )


# --- camt.054 read by the platform --------------------------------------------------------------


def _read_notification_entries(r: _Reader, ntry: etree._Element, n: int, currency: str) -> list[NotificationEntry]:
    what = f"entry {n}"
    kids = r.kids(ntry)
    amount, direction, booked_at = _booked_entry_basics(r, kids, what, currency)
    val = kids.first("ValDt")
    value_date = _parse_day(val, r, f"{what} value date") if val is not None else booked_at.astimezone(CHINA_TZ).date()
    entry_ref = kids.text("AcctSvcrRef") or ""
    txs = r.all(ntry, "c:NtryDtls/c:TxDtls")
    if not txs:
        raise InvalidInput(Iso20022Error.CAMT054_NO_DETAILS, what=where(what))
    parts = [_read_notification_tx(r, tx, k, len(txs), what, amount, direction, booked_at, value_date, entry_ref,
                                   currency) for k, tx in enumerate(txs, start=1)]
    if sum(p.amount_fen for p in parts) != amount:
        raise InvalidInput(Iso20022Error.TRANSACTIONS_SUM, msg="camt.054", what=where(what))
    return parts


def _read_notification_tx(
    r: _Reader, tx: etree._Element, k: int, txs: int, what: str, amount: int, direction: Direction,
    booked_at: datetime, value_date: date, entry_ref: str, currency: str,
) -> NotificationEntry:
    tx_what = f"{what} transaction {k}"
    tx_amount = _transaction_amount(r, r.kids(tx), txs, amount, direction, currency, tx_what)
    bank_reference = r.text(tx, "c:Refs/c:AcctSvcrRef") or entry_ref
    if not bank_reference:
        raise InvalidInput(Iso20022Error.CAMT054_NO_REFERENCE, what=where(tx_what))
    counterparty = "Dbtr" if direction == "CRDT" else "Cdtr"
    try:
        return NotificationEntry(
            bank_reference=bank_reference,
            end_to_end_id=r.text(tx, "c:Refs/c:EndToEndId") or NOT_PROVIDED,
            amount_fen=tx_amount,
            direction=direction,
            booked_at=booked_at,
            value_date=value_date,
            counterparty_name=r.text(tx, f"c:RltdPties/c:{counterparty}/c:Pty/c:Nm") or "",
            counterparty_account=r.account(tx, f"c:RltdPties/c:{counterparty}Acct"),
            creditor_reference=r.text(tx, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref") or "",
            virtual_account=r.account(tx, "c:RltdPties/c:CdtrAcct") if direction == "CRDT" else "",
            remittance_info=r.remittance(tx),
            return_reason=r.text(tx, "c:RtrInf/c:Rsn/c:Cd") or "",
        )
    except InvalidInput as exc:
        raise InvalidInput(Iso20022Error.CAMT054_INNER, what=where(tx_what), error=inner(exc)) from exc


def parse_camt054(xml: bytes) -> Notification:
    """Validate and read a ``camt.054.001.08`` holding exactly one account notification.

    Refuses what :func:`parse_camt053` refuses (schema, status other than BOOK, another currency than
    the account's, amounts finer than one fen, transactions not adding up to their entry), and an
    entry without transaction details or without the bank's reference.
    """
    root = validate(xml, CAMT054)
    r = _Reader(_NS[CAMT054], "camt.054")
    top = r.one(root, "c:BkToCstmrDbtCdtNtfctn", "<BkToCstmrDbtCdtNtfctn>")
    hdr = r.one(top, "c:GrpHdr", "<GrpHdr>")
    ntfctn = r.one(top, "c:Ntfctn", "<Ntfctn> (account notification)")
    currency = r.text(ntfctn, "c:Acct/c:Ccy") or ""
    _check_currency(currency)
    entries: list[NotificationEntry] = []
    for n, ntry in enumerate(r.all(ntfctn, "c:Ntry"), start=1):
        entries.extend(_read_notification_entries(r, ntry, n, currency))
    return Notification(
        message_id=r.text(hdr, "c:MsgId") or "",
        created_at=_parse_moment(r.text(hdr, "c:CreDtTm") or "", "creation time", "camt.054"),
        notification_id=r.text(ntfctn, "c:Id") or "",
        account_id=r.account(ntfctn, "c:Acct"),
        currency=currency,
        entries=tuple(entries),
        sequence_number=r.number(ntfctn, "c:ElctrncSeqNb"),
    )
