"""ISO 20022 messages between the platform and its custodian bank.

- ``pain.001.001.09`` (CustomerCreditTransferInitiation): the platform instructs the custodian to pay
  (aid payouts, refunds). Built by :func:`build_pain001`.
- ``camt.053.001.08`` (BankToCustomerStatement): the custodian reports the custody account; the
  platform reconciles its ledger against it. Built by :func:`build_camt053` (the simulated custodian)
  and read by :func:`parse_camt053`.

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

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Literal

from lxml import etree
from stdnum import iban as _iban

from huzhu.clock import CHINA_TZ, start_of_business_day
from huzhu.errors import InvalidInput
from huzhu.money import MAX_FEN, format_yuan, parse_yuan

__all__ = [
    "CAMT053",
    "PAIN001",
    "PaymentInstruction",
    "Statement",
    "StatementEntry",
    "build_camt053",
    "build_pain001",
    "parse_camt053",
    "validate",
]

PAIN001 = "pain.001.001.09"
CAMT053 = "camt.053.001.08"
_NS = {name: f"urn:iso:std:iso:20022:tech:xsd:{name}" for name in (PAIN001, CAMT053)}

Direction = Literal["CRDT", "DBIT"]
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}$")
_BIC = re.compile(r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_USTRD_LEN = 140  # Max140Text: longer remittance information is split over several <Ustrd> lines
NOT_PROVIDED = "NOTPROVIDED"


# --- value types --------------------------------------------------------------------------------


def _check_text(value: object, field: str, max_len: int, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text")
    if required and not value.strip():
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > max_len:
        raise InvalidInput(f"{field} is {len(value)} characters long; ISO 20022 allows at most {max_len}")


def _check_amount(amount_fen: object, field: str) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput(f"{field} must be an integer number of fen")
    if amount_fen <= 0:
        raise InvalidInput(f"{field} must be greater than zero")
    if amount_fen > MAX_FEN:
        raise InvalidInput(f"{field} is too large")


def _check_currency(currency: object) -> None:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise InvalidInput(f'currency {currency!r} is not an ISO 4217 code like "CNY"')


def _check_aware(moment: object, field: str) -> None:
    if not isinstance(moment, datetime):
        raise InvalidInput(f"{field} must be a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{field} must be timezone-aware")


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
            raise InvalidInput("requested_date must be a date")


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """One booked movement on the custody account: ``amount_fen`` is positive, the sign is ``direction``."""

    end_to_end_id: str
    amount_fen: int
    direction: Direction
    booked_at: datetime
    remittance_info: str

    def __post_init__(self) -> None:
        _check_text(self.end_to_end_id, "end_to_end_id", 35)
        _check_amount(self.amount_fen, "amount_fen")
        if self.direction not in ("CRDT", "DBIT"):
            raise InvalidInput(f'direction must be "CRDT" or "DBIT", not {self.direction!r}')
        _check_aware(self.booked_at, "booked_at")
        _check_text(self.remittance_info, "remittance_info", 10_000, required=False)

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


# --- schemas ------------------------------------------------------------------------------------

_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
_local = threading.local()  # lxml schema and parser objects are not shared between threads


def _schema(schema_name: str) -> etree.XMLSchema:
    cache: dict[str, etree.XMLSchema] = _local.__dict__.setdefault("schemas", {})
    if schema_name not in cache:
        if schema_name not in _NS:
            raise InvalidInput(f"unknown schema {schema_name!r}; known: {', '.join(sorted(_NS))}")
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
        raise InvalidInput(f"{schema_name}: the message must be given as bytes")
    try:
        root = etree.fromstring(bytes(xml), _parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"{schema_name}: the message is not well-formed XML: {exc}") from exc
    if not schema.validate(root):
        errors = list(schema.error_log)
        first = errors[0]
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        raise InvalidInput(
            f"{schema_name}: the message does not conform to the schema: line {first.line}: {first.message}{more}",
            schema=schema_name,
            errors=[f"line {e.line}: {e.message}" for e in errors[:20]],
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
                raise InvalidInput(f"{tag}: {text!r} cannot be written in XML: {exc}") from exc
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
        raise InvalidInput(f"debtor_agent_bic {debtor_agent_bic!r} is not a BIC")
    payments = list(payments)
    if not payments:
        raise InvalidInput("a payment initiation needs at least one payment")
    seen: set[str] = set()
    for p in payments:
        if not isinstance(p, PaymentInstruction):
            raise InvalidInput("payments must be PaymentInstruction values")
        if p.end_to_end_id in seen:
            raise InvalidInput(f"end-to-end id {p.end_to_end_id!r} appears twice in the message")
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
) -> bytes:
    """Build a schema-valid ``camt.053.001.08`` statement of the custody account.

    Opening balance (OPBD) at the start of ``from_to``, closing balance (CLBD) = opening + credits −
    debits at its end, one booked ``Ntry`` per entry (each booked within ``from_to``) with the
    EndToEndId and remittance information in its transaction details.
    """
    _check_text(statement_id, "statement_id", 35)
    _check_aware(created_at, "created_at")
    _check_text(account_id, "account_id", 34)
    _check_currency(currency)
    if isinstance(opening_balance_fen, bool) or not isinstance(opening_balance_fen, int):
        raise InvalidInput("opening_balance_fen must be an integer number of fen")
    if not isinstance(from_to, tuple) or len(from_to) != 2:
        raise InvalidInput("from_to must be a (from, to) pair of datetimes")
    start, end = from_to
    _check_aware(start, "from_to[0]")
    _check_aware(end, "from_to[1]")
    if end < start:
        raise InvalidInput("from_to: the statement period ends before it starts")
    entries = list(entries)
    for i, e in enumerate(entries):
        if not isinstance(e, StatementEntry):
            raise InvalidInput("entries must be StatementEntry values")
        if not start <= e.booked_at <= end:
            raise InvalidInput(f"entry {i} ({e.end_to_end_id}) is booked outside the statement period")
    closing = opening_balance_fen + sum(e.signed_fen for e in entries)
    if abs(opening_balance_fen) > MAX_FEN or abs(closing) > MAX_FEN:
        raise InvalidInput("balance is too large")

    b = _Builder(CAMT053, "BkToCstmrStmt")
    hdr = b.sub(b.top, "GrpHdr")
    b.sub(hdr, "MsgId", statement_id)
    b.sub(hdr, "CreDtTm", _iso_datetime(created_at))
    stmt = b.sub(b.top, "Stmt")
    b.sub(stmt, "Id", statement_id)
    b.sub(stmt, "CreDtTm", _iso_datetime(created_at))
    period = b.sub(stmt, "FrToDt")
    b.sub(period, "FrDtTm", _iso_datetime(start))
    b.sub(period, "ToDtTm", _iso_datetime(end))
    b.account(stmt, "Acct", account_id, currency)
    for code, fen, moment in (("OPBD", opening_balance_fen, start), ("CLBD", closing, end)):
        bal = b.sub(stmt, "Bal")
        b.path(bal, "Tp/CdOrPrtry/Cd", code)
        b.amount(bal, "Amt", abs(fen), currency)
        b.sub(bal, "CdtDbtInd", "DBIT" if fen < 0 else "CRDT")
        b.path(bal, "Dt/DtTm", _iso_datetime(moment))
    for e in entries:
        ntry = b.sub(stmt, "Ntry")
        b.amount(ntry, "Amt", e.amount_fen, currency)
        b.sub(ntry, "CdtDbtInd", e.direction)
        b.path(ntry, "Sts/Cd", "BOOK")
        b.path(ntry, "BookgDt/DtTm", _iso_datetime(e.booked_at))
        domain = b.path(ntry, "BkTxCd/Domn")
        b.sub(domain, "Cd", "PMNT")
        family = b.sub(domain, "Fmly")
        b.sub(family, "Cd", "RCDT" if e.direction == "CRDT" else "ICDT")  # received / issued transfer
        b.sub(family, "SubFmlyCd", "DMCT")  # domestic credit transfer
        tx = b.path(ntry, "NtryDtls/TxDtls")
        b.path(tx, "Refs/EndToEndId", e.end_to_end_id)
        b.amount(tx, "Amt", e.amount_fen, currency)
        b.sub(tx, "CdtDbtInd", e.direction)
        b.remittance(tx, e.remittance_info)
    return b.finish()


# --- parsing ------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, ns: str) -> None:
        self.ns = {"c": ns}

    def all(self, element: etree._Element, path: str) -> list[etree._Element]:
        return element.xpath(path, namespaces=self.ns)

    def one(self, element: etree._Element, path: str, what: str) -> etree._Element:
        found = self.all(element, path)
        if len(found) != 1:
            raise InvalidInput(f"camt.053: expected exactly one {what}, found {len(found)}")
        return found[0]

    def text(self, element: etree._Element, path: str) -> str | None:
        found = self.all(element, path)
        return (found[0].text or "").strip() if found else None


def _parse_amount(element: etree._Element, currency: str, what: str, *, allow_zero: bool) -> int:
    ccy = element.get("Ccy")
    if ccy != currency:
        raise InvalidInput(f"camt.053: {what} is in {ccy}, but the account is in {currency}")
    text = (element.text or "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidInput(f"camt.053: {what} {text!r} is not a decimal amount") from exc
    return parse_yuan(value, field=f"camt.053: {what}", allow_zero=allow_zero)


def _parse_moment(text: str, what: str) -> datetime:
    try:
        if "T" in text:
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)
        return start_of_business_day(date.fromisoformat(text)).astimezone(CHINA_TZ)
    except ValueError as exc:
        raise InvalidInput(f"camt.053: {what} {text!r} is not an ISO date or date-time") from exc


def _direction(text: str | None, what: str) -> Direction:
    if text not in ("CRDT", "DBIT"):
        raise InvalidInput(f"camt.053: {what} has credit/debit indicator {text!r}")
    return text  # type: ignore[return-value]


def parse_camt053(xml: bytes) -> Statement:
    """Validate and read a ``camt.053.001.08`` statement holding exactly one account statement.

    Raises :class:`InvalidInput` when the XML is malformed or not schema-valid, when an entry is not
    booked (status other than BOOK), when amounts are in another currency than the account or finer
    than one fen, or when opening + credits − debits ≠ closing. An entry whose transaction details
    list several transactions (batch booking) yields one :class:`StatementEntry` per transaction;
    their amounts must add up to the entry's amount. A missing EndToEndId reads as "NOTPROVIDED".
    """
    root = validate(xml, CAMT053)
    r = _Reader(_NS[CAMT053])
    stmt = r.one(root, "c:BkToCstmrStmt/c:Stmt", "<Stmt> (account statement)")
    statement_id = r.text(stmt, "c:Id") or ""
    account_id = r.text(stmt, "c:Acct/c:Id/c:IBAN") or r.text(stmt, "c:Acct/c:Id/c:Othr/c:Id") or ""

    balances: dict[str, etree._Element] = {}
    for bal in r.all(stmt, "c:Bal"):
        code = r.text(bal, "c:Tp/c:CdOrPrtry/c:Cd")
        if code in ("OPBD", "PRCD", "CLBD"):
            if code in balances:
                raise InvalidInput(f"camt.053: balance {code} appears more than once")
            balances[code] = bal
    opening_bal = balances.get("OPBD", balances.get("PRCD"))
    closing_bal = balances.get("CLBD")
    if opening_bal is None or closing_bal is None:
        raise InvalidInput("camt.053: the statement needs an opening (OPBD) and a closing (CLBD) balance")
    currency = r.text(stmt, "c:Acct/c:Ccy") or r.one(opening_bal, "c:Amt", "balance amount").get("Ccy")
    _check_currency(currency)

    def balance(bal: etree._Element, what: str) -> int:
        fen = _parse_amount(r.one(bal, "c:Amt", f"{what} amount"), currency, what, allow_zero=True)
        return -fen if _direction(r.text(bal, "c:CdtDbtInd"), what) == "DBIT" else fen

    opening = balance(opening_bal, "opening balance")
    closing = balance(closing_bal, "closing balance")

    entries: list[StatementEntry] = []
    for n, ntry in enumerate(r.all(stmt, "c:Ntry"), start=1):
        what = f"entry {n}"
        status = r.text(ntry, "c:Sts/c:Cd") or r.text(ntry, "c:Sts/c:Prtry")
        if status != "BOOK":
            raise InvalidInput(
                f"camt.053: {what} has status {status!r}; a statement may only hold booked entries"
            )
        amount = _parse_amount(
            r.one(ntry, "c:Amt", f"{what} amount"), currency, f"{what} amount", allow_zero=False
        )
        direction = _direction(r.text(ntry, "c:CdtDbtInd"), what)
        booked_text = r.text(ntry, "c:BookgDt/c:DtTm") or r.text(ntry, "c:BookgDt/c:Dt")
        if not booked_text:
            raise InvalidInput(f"camt.053: {what} has no booking date")
        booked_at = _parse_moment(booked_text, f"{what} booking date")
        txs = r.all(ntry, "c:NtryDtls/c:TxDtls")
        if not txs:
            entries.append(StatementEntry(NOT_PROVIDED, amount, direction, booked_at, ""))
            continue
        parts: list[StatementEntry] = []
        for k, tx in enumerate(txs, start=1):
            tx_what = f"{what} transaction {k}"
            amt_el = r.all(tx, "c:Amt")
            if amt_el:
                tx_amount = _parse_amount(amt_el[0], currency, f"{tx_what} amount", allow_zero=False)
            elif len(txs) == 1:
                tx_amount = amount
            else:
                raise InvalidInput(
                    f"camt.053: {tx_what} has no amount but the entry holds several transactions"
                )
            tx_direction = _direction(r.text(tx, "c:CdtDbtInd") or direction, tx_what)
            if tx_direction != direction:
                raise InvalidInput(f"camt.053: {tx_what} goes the other way than its entry")
            remittance = "".join(u.text or "" for u in r.all(tx, "c:RmtInf/c:Ustrd"))
            e2e = r.text(tx, "c:Refs/c:EndToEndId") or NOT_PROVIDED
            parts.append(StatementEntry(e2e, tx_amount, direction, booked_at, remittance))
        if sum(p.amount_fen for p in parts) != amount:
            raise InvalidInput(f"camt.053: the transactions of {what} do not add up to its amount")
        entries.extend(parts)

    computed = opening + sum(e.signed_fen for e in entries)
    if computed != closing:
        raise InvalidInput(
            f"camt.053: opening balance {format_yuan(opening)} + credits − debits = {format_yuan(computed)}, "
            f"but the closing balance says {format_yuan(closing)}",
            opening=format_yuan(opening),
            computed_closing=format_yuan(computed),
            stated_closing=format_yuan(closing),
        )
    return Statement(
        statement_id=statement_id,
        account_id=account_id,
        currency=currency,
        opening_balance_fen=opening,
        closing_balance_fen=closing,
        entries=tuple(entries),
    )
