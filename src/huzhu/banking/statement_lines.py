"""A fast streamed reader of a camt.053's lines for reconciliation.

A statement file larger than :data:`VALIDATE_APART_BYTES` is validated against the XSD in a second
process (libxml2, no Python per entry) while this one extracts its lines without the schema: on two
cores the wall time is the slower of the two instead of their sum. Nothing is used before the
validation has passed: the lines go into the caller's transaction, which fails (rolls back) when the
other process reports the file invalid.

:class:`~huzhu.custody.iso20022.Camt053Reader` checks every field of every entry in Python; for a day
of a million lines that is most of the time. This reader lets libxml2 validate the whole document
against the bundled XSD while it streams (``iterparse`` with the schema: nothing unvalidated is used),
and takes from each entry only what reconciliation compares: the bank's reference, the EndToEndId,
direction, amount (exact fen) and booking date; it checks the currency and that opening + credits −
debits = closing. An entry it does not expect (several transactions in one entry, an amount with more
than two decimals) makes it stop with :class:`NotSimple`: the caller then reads the statement with
``Camt053Reader`` instead.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

from huzhu.banking.errors import BankingError
from huzhu.clock import CHINA_TZ
from huzhu.custody.errors import Iso20022Error
from huzhu.custody.iso20022 import CAMT053, _schema
from huzhu.errors import InvalidInput

NS = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}"
NTRY, BAL, STMT_ID = f"{NS}Ntry", f"{NS}Bal", f"{NS}Id"
_AMT, _CDI, _REF = f"{NS}Amt", f"{NS}CdtDbtInd", f"{NS}AcctSvcrRef"
_BOOKED = f"{NS}BookgDt"
_TXS = f"{NS}NtryDtls/{NS}TxDtls"
_E2E = f"{NS}Refs/{NS}EndToEndId"
_BAL_CODE = f"{NS}Tp/{NS}CdOrPrtry/{NS}Cd"


VALIDATE_APART_BYTES = 8 * 1024 * 1024


def validate_file(path: str) -> str:
    """Validate a camt.053 file against the bundled XSD (in a worker process); "" or the first error."""
    try:
        for _event, element in etree.iterparse(path, events=("end",), tag=NTRY, schema=_schema(CAMT053),
                                               resolve_entities=False, no_network=True, load_dtd=False,
                                               huge_tree=True):
            element.clear()
            parent = element.getparent()
            while element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        return str(exc)
    return ""


class NotSimple(Exception):
    """The statement has entries this reader does not take apart: read it with Camt053Reader."""


@dataclass
class Totals:
    statement_id: str = ""
    opening_fen: int | None = None
    closing_fen: int | None = None
    credits_fen: int = 0
    debits_fen: int = 0
    lines: int = 0


def _fen(text: str | None) -> int:
    if not text:
        raise InvalidInput(BankingError.AMOUNT_MISSING)
    whole, _, fraction = text.partition(".")
    if len(fraction) == 2:
        return int(whole) * 100 + int(fraction)
    value = Decimal(text) * 100
    if value != value.to_integral_value():
        raise NotSimple("an amount has fractions of a fen")
    return int(value)


def _day(element: etree._Element) -> date:
    moment = element.findtext(f"{NS}DtTm")
    if moment is not None:
        return datetime.fromisoformat(moment).astimezone(CHINA_TZ).date()
    day = element.findtext(f"{NS}Dt")
    if day is None:
        raise InvalidInput(BankingError.NO_BOOKING_DATE)
    return date.fromisoformat(day)


def statement_lines(source: bytes | Path, totals: Totals, *, currency: str = "CNY"
                    ) -> Iterator[tuple[int, str, str, str, int, date]]:
    """(line number, bank reference, EndToEndId, direction, amount in fen, booking date) per entry,
    validated by the schema as it streams; ``totals`` is filled in, the balance checked at the end."""
    apart: subprocess.Popen[bytes] | None = None
    if isinstance(source, Path) and source.stat().st_size > VALIDATE_APART_BYTES:
        # A fresh interpreter (not fork: the caller may hold database connections and threads; not
        # multiprocessing's spawn: it would re-import the caller's __main__).
        apart = subprocess.Popen([sys.executable, "-m", "huzhu.banking.statement_lines", str(source)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    handle = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    events = etree.iterparse(handle, events=("end",), tag=(NTRY, BAL, STMT_ID),
                             schema=None if apart is not None else _schema(CAMT053),
                             resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        for _event, element in events:
            tag = element.tag
            if tag == STMT_ID:
                if element.getparent().tag == f"{NS}Stmt":
                    totals.statement_id = element.text or ""
                continue
            if tag == BAL:
                amount = element.find(_AMT)
                fen = _fen(amount.text) * (-1 if element.findtext(_CDI) == "DBIT" else 1)
                code = element.findtext(_BAL_CODE)
                if code == "OPBD":
                    totals.opening_fen = fen
                elif code == "CLBD":
                    totals.closing_fen = fen
                continue
            amount = element.find(_AMT)
            if amount.get("Ccy") != currency:
                raise InvalidInput(BankingError.ENTRY_CURRENCY, currency=amount.get('Ccy'), expected=currency)
            fen = _fen(amount.text)
            direction = element.findtext(_CDI) or ""
            txs = element.findall(_TXS)
            if len(txs) > 1:
                raise NotSimple("an entry carries several transactions")
            e2e = txs[0].findtext(_E2E) if txs else None
            reference = element.findtext(_REF) or e2e or ""
            totals.lines += 1
            if direction == "CRDT":
                totals.credits_fen += fen
            else:
                totals.debits_fen += fen
            yield totals.lines, reference, e2e or "NOTPROVIDED", direction, fen, _day(element.find(_BOOKED))
            element.clear()
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(Iso20022Error.NOT_WELL_FORMED_OR_VALID, schema=CAMT053, error=exc) from exc
    finally:
        if not isinstance(source, bytes):
            handle.close()
        if apart is not None and apart.poll() is None and sys.exc_info()[0] is not None:
            apart.kill()
    if apart is not None:
        out, err = apart.communicate()
        if apart.returncode != 0:
            error = out.decode(errors="replace").strip() or err.decode(errors="replace").strip()[-500:]
            raise InvalidInput(Iso20022Error.NOT_VALID, schema=CAMT053, error=error)
    if totals.opening_fen is None or totals.closing_fen is None:
        raise InvalidInput(BankingError.NO_OPENING_OR_CLOSING)
    if totals.opening_fen + totals.credits_fen - totals.debits_fen != totals.closing_fen:
        raise InvalidInput(BankingError.DOES_NOT_ADD_UP, opening=totals.opening_fen, closing=totals.closing_fen)


if __name__ == "__main__":  # the validating worker: exit 1 and print the first error when invalid
    problem = validate_file(sys.argv[1])
    print(problem)
    sys.exit(1 if problem else 0)
