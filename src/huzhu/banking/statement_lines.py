"""A fast streamed reader of a camt.053's lines for reconciliation.

libxml2 does all the per-entry work in C: ``iterparse`` (tag-filtered) validates the document
against the bundled XSD as it streams, and every :data:`BATCH` entries one compiled XSLT pass
(libxslt) writes the fields reconciliation compares of the entries parsed so far as tab-separated
text; the entries are then dropped from the tree, so memory stays bounded whatever the file's size.
Python only splits that text and converts each line's amount (exact fen) and booking date. Per
entry that is about a tenth of walking the elements from Python (``find``/``findtext``), which was
most of the time for a day of a million lines.

A statement file larger than :data:`VALIDATE_APART_BYTES`, read while a core is idle (load average
at most the number of cores less one), is validated against the XSD in a second process (libxml2, no
Python per entry) while this one extracts its lines without the schema: the wall time is then the
slower of the two instead of their sum. On a busy machine it is validated inline. Nothing is used before the
validation has passed: the lines go into the caller's transaction, which fails (rolls back) when the
other process reports the file invalid.

What is taken from each entry: the bank's reference, the EndToEndId, direction, amount and booking
date; the currency is checked and that opening + credits − debits = closing. An entry it does not
expect (several transactions in one entry, an amount with fractions of a fen, a tab or line break
inside a field, which would blur the extracted text's columns) makes it stop with
:class:`NotSimple`: the caller then reads the statement with ``Camt053Reader`` instead.

Hostile XML: no entity resolution, no DTD loading, no network, and a document with a DTD (document
type declaration) is refused; the XSLT is ours, runs with every file and network access denied, and
reads nothing but the parsed tree.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

from huzhu.banking.errors import BankingError
from huzhu.clock import CHINA_TZ
from huzhu.custody.errors import Iso20022Error, where
from huzhu.custody.iso20022 import CAMT053, _schema
from huzhu.errors import InvalidInput

NS_URI = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
NS = f"{{{NS_URI}}}"
NTRY, BAL, STMT_ID = f"{NS}Ntry", f"{NS}Bal", f"{NS}Id"
_AMT, _CDI = f"{NS}Amt", f"{NS}CdtDbtInd"
_BAL_CODE = f"{NS}Tp/{NS}CdOrPrtry/{NS}Cd"

VALIDATE_APART_BYTES = 8 * 1024 * 1024
VALIDATE_APART_MAX_LOAD: float | None = None  # None: the number of cores less one


def _validate_apart(source: bytes | Path) -> bool:
    """Validate in a second process? Only for a large file and with a core to spare: on a busy
    machine the second process costs a second full parse and shortens nothing (measured: 1,000,000
    lines under a load average of 7 on 2 cores took longer apart than inline)."""
    if not isinstance(source, Path) or source.stat().st_size <= VALIDATE_APART_BYTES:
        return False
    limit = VALIDATE_APART_MAX_LOAD if VALIDATE_APART_MAX_LOAD is not None else (os.cpu_count() or 1) - 1
    return os.getloadavg()[0] <= limit
BATCH = 20_000  # entries per XSLT pass: large enough that the pass's fixed cost vanishes, small in memory

# The libxml2 parser options of every ISO message read here: no entities resolved, no DTD, no network.
# huge_tree stays off: a statement of millions of entries is many small nodes, which needs no lifted
# limits (those are for single text nodes over 10 MB and nesting over 256 levels, which no camt.053 has).
PARSE_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}

# One line per entry, in document order, of the first $n entries still in the tree:
# bank reference, number of transactions, EndToEndId, direction, amount, currency, date, date-time.
_EXTRACT_XSL = f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:c="{NS_URI}">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:param name="n" select="0"/>
<xsl:template match="/">
<xsl:for-each select="c:Document/c:BkToCstmrStmt/c:Stmt/c:Ntry[position() &lt;= $n]">
<xsl:value-of select="concat(c:AcctSvcrRef, '&#9;', count(c:NtryDtls/c:TxDtls), '&#9;',
 c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId, '&#9;', c:CdtDbtInd, '&#9;', c:Amt, '&#9;', c:Amt/@Ccy, '&#9;',
 c:BookgDt/c:Dt, '&#9;', c:BookgDt/c:DtTm, '&#10;')"/>
</xsl:for-each>
</xsl:template>
</xsl:stylesheet>"""
_FIELDS = 8
_local = threading.local()  # lxml XSLT objects are not shared between threads


def _extract() -> etree.XSLT:
    transform = _local.__dict__.get("extract")
    if transform is None:
        transform = _local.extract = etree.XSLT(etree.XML(_EXTRACT_XSL.encode()),
                                                access_control=etree.XSLTAccessControl.DENY_ALL)
    return transform


def validate_file(path: str) -> str:
    """Validate a camt.053 file against the bundled XSD (in a worker process); "" or the first error."""
    try:
        for _event, element in etree.iterparse(path, events=("end",), tag=NTRY, schema=_schema(CAMT053),
                                               **PARSE_OPTIONS):
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
    if len(fraction) == 2 and whole.isdigit() and fraction.isdigit():
        return int(whole) * 100 + int(fraction)
    value = Decimal(text) * 100
    if value != value.to_integral_value():
        raise NotSimple("an amount has fractions of a fen")
    return int(value)


_DAYS: dict[tuple[str, str], str] = {}


def business_day(moment: str) -> str:
    """The business day in China (``YYYY-MM-DD``) of an ISO date-time (naive means China time).

    China's offset is fixed (+08:00), so under a whole-hour offset the day depends on the date and
    hour alone: those are computed once each and cached (a day's statement has at most 48 of them)."""
    if moment.endswith("Z"):
        offset = "+00:00"
    elif len(moment) > 19 and moment[-6] in "+-" and moment[-3] == ":":
        offset = moment[-6:]
    else:
        offset = ""
    if offset[-2:] == "00" and len(moment) >= 19 and moment[13] == ":":
        key = (moment[:13], offset)
        day = _DAYS.get(key)
        if day is None:
            if len(_DAYS) > 10_000:
                _DAYS.clear()
            day = _DAYS[key] = _moment_day(f"{moment[:13]}:00:00{offset}")
        return day
    return _moment_day(moment)


def _moment_day(moment: str) -> str:
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError as exc:
        raise InvalidInput(Iso20022Error.NOT_MOMENT, msg="camt.053", what=where("booking date"), text=moment) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)
    return parsed.astimezone(CHINA_TZ).date().isoformat()


Line = tuple[int, str, str, str, int, str]


def _lines(text: str, expected: int, totals: Totals, currency: str) -> list[Line]:
    """The XSLT's text for ``expected`` entries as lines; any doubt about its columns is NotSimple."""
    rows = text.split("\n")
    if len(rows) != expected + 1 or rows[-1]:
        raise NotSimple("a field holds a line break")
    rows.pop()
    out: list[Line] = []
    append = out.append
    n = totals.lines
    credits = debits = 0
    for row in rows:
        fields = row.split("\t")
        if len(fields) != _FIELDS:
            raise NotSimple("a field holds a tab")
        reference, txs, e2e, direction, amount, ccy, day, moment = fields
        if txs != "1" and txs != "0":
            raise NotSimple("an entry carries several transactions")
        if ccy != currency:
            raise InvalidInput(BankingError.ENTRY_CURRENCY, currency=ccy, expected=currency)
        fen = _fen(amount)
        if direction == "CRDT":
            credits += fen
        else:
            debits += fen
        if not day:
            if not moment:
                raise InvalidInput(BankingError.NO_BOOKING_DATE)
            day = business_day(moment)
        e2e = e2e.strip()
        n += 1
        append((n, reference.strip() or e2e, e2e or "NOTPROVIDED", direction, fen, day))
    totals.lines, totals.credits_fen, totals.debits_fen = n, totals.credits_fen + credits, totals.debits_fen + debits
    return out


def statement_line_batches(source: bytes | Path, totals: Totals, *, currency: str = "CNY",
                           batch: int = BATCH) -> Iterator[list[Line]]:
    """Lists of (line number, bank reference, EndToEndId, direction, amount in fen, booking day as
    ``YYYY-MM-DD``), validated by the schema as it streams; ``totals`` is filled in and the balance
    checked at the end. Use the lines only once the iteration has ended without an error."""
    apart: subprocess.Popen[bytes] | None = None
    if _validate_apart(source):
        # A fresh interpreter (not fork: the caller may hold database connections and threads; not
        # multiprocessing's spawn: it would re-import the caller's __main__).
        apart = subprocess.Popen([sys.executable, "-m", "huzhu.banking.statement_lines", str(source)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    handle = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    events = etree.iterparse(handle, events=("end",), tag=(NTRY, BAL, STMT_ID),
                             schema=None if apart is not None else _schema(CAMT053), **PARSE_OPTIONS)
    extract = _extract()
    first: etree._Element | None = None
    pending = 0

    def flush() -> list[Line]:
        nonlocal first, pending
        assert first is not None
        stmt = first.getparent()
        text = str(extract(stmt.getroottree(), n=str(pending)))
        lines = _lines(text, pending, totals, currency)
        start = stmt.index(first)
        del stmt[start:start + pending]  # entries are consecutive children of <Stmt> (the schema's order)
        first, pending = None, 0
        return lines

    checked = False
    stmts = 0
    try:
        for _event, element in events:
            if not checked:
                # An ISO 20022 message has no DTD. One could declare entities that the XSLT's string
                # values would expand (nested ones exponentially): refuse it outright.
                if element.getroottree().docinfo.doctype:
                    raise InvalidInput(BankingError.DTD_REFUSED, schema=CAMT053)
                checked = True
            tag = element.tag
            if tag == NTRY:
                if first is None:
                    first = element
                pending += 1
                if pending >= batch:
                    yield flush()
                continue
            if tag == STMT_ID:
                if element.getparent().tag == f"{NS}Stmt":
                    if stmts:
                        raise InvalidInput(Iso20022Error.STATEMENTS_MORE)
                    stmts, totals.statement_id = 1, element.text or ""
                continue
            amount = element.find(_AMT)
            fen = _fen(amount.text) * (-1 if element.findtext(_CDI) == "DBIT" else 1)
            code = element.findtext(_BAL_CODE)
            if code == "OPBD":
                totals.opening_fen = fen
            elif code == "CLBD":
                totals.closing_fen = fen
        if pending:
            yield flush()
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


def statement_lines(source: bytes | Path, totals: Totals, *, currency: str = "CNY") -> Iterator[Line]:
    """The lines of :func:`statement_line_batches` one by one."""
    for lines in statement_line_batches(source, totals, currency=currency):
        yield from lines


if __name__ == "__main__":  # the validating worker: exit 1 and print the first error when invalid
    problem = validate_file(sys.argv[1])
    print(problem)
    sys.exit(1 if problem else 0)
