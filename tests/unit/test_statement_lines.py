"""The fast statement reader used by reconciliation: the same lines as the full reader, the schema
enforced whether it validates inline or in a second process, the balance checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from huzhu.banking import statement_lines as fast
from huzhu.custody.iso20022 import StatementEntry, build_camt053, parse_camt053
from huzhu.errors import InvalidInput

START = datetime(2016, 3, 1, 16, 0, tzinfo=UTC)


def _statement() -> bytes:
    rows = [StatementEntry(f"E2E{i}", 900 + i, "DBIT" if i == 2 else "CRDT", START + timedelta(minutes=i), "x",
                           bank_reference=f"HZB{i:012d}") for i in range(3)]
    return build_camt053(statement_id="HZ20160302S00000001", created_at=START + timedelta(days=1),
                         account_id="HUZHU-CUSTODY-0001", opening_balance_fen=5000, entries=rows,
                         from_to=(START, START + timedelta(days=1)), sequence_number=1)


def _read(source: bytes | Path) -> tuple[list[tuple], fast.Totals]:
    totals = fast.Totals()
    return list(fast.statement_lines(source, totals)), totals


@pytest.mark.parametrize("apart", [False, True])
def test_the_same_lines_as_the_full_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apart: bool) -> None:
    xml = _statement()
    path = tmp_path / "s.xml"
    path.write_bytes(xml)
    if apart:
        monkeypatch.setattr(fast, "VALIDATE_APART_BYTES", 0)
        monkeypatch.setattr(fast, "VALIDATE_APART_MAX_LOAD", float("inf"))
    lines, totals = _read(path)
    full = parse_camt053(xml)
    assert [(ref, e2e, d, fen) for _n, ref, e2e, d, fen, _day in lines] == [
        (e.bank_reference, e.end_to_end_id, e.direction, e.amount_fen) for e in full.entries]
    assert (totals.statement_id, totals.opening_fen, totals.closing_fen) == (
        full.statement_id, full.opening_balance_fen, full.closing_balance_fen)
    assert str(lines[0][5]) == "2016-03-02"  # the business day in China


@pytest.mark.parametrize("apart", [False, True])
def test_a_statement_breaking_the_schema_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    apart: bool) -> None:
    bad = _statement().replace(b"<CdtDbtInd>CRDT</CdtDbtInd>", b"<CdtDbtInd>SIDEWAYS</CdtDbtInd>", 1)
    assert bad != _statement()
    path = tmp_path / "bad.xml"
    path.write_bytes(bad)
    if apart:
        monkeypatch.setattr(fast, "VALIDATE_APART_BYTES", 0)
        monkeypatch.setattr(fast, "VALIDATE_APART_MAX_LOAD", float("inf"))
    with pytest.raises(InvalidInput, match="schema"):
        _read(path)


def test_a_statement_whose_balance_does_not_add_up_is_refused() -> None:
    xml = _statement()
    tampered = xml.replace(b'<Amt Ccy="CNY">9.01</Amt>', b'<Amt Ccy="CNY">9.11</Amt>', 1)
    assert tampered != xml
    with pytest.raises(InvalidInput, match="closing"):
        _read(tampered)


def test_batches_of_any_size_give_the_same_lines() -> None:
    xml = _statement()
    whole = list(fast.statement_lines(xml, fast.Totals()))
    for size in (1, 2, 3):
        totals = fast.Totals()
        batches = list(fast.statement_line_batches(xml, totals, batch=size))
        assert [line for lines in batches for line in lines] == whole
        assert len(batches) == -(-3 // size)
        assert totals.lines == 3


@pytest.mark.parametrize("moment", [
    "2016-03-01T16:00:00+00:00", "2016-03-01T15:59:59.999999Z", "2016-03-01T23:30:00-08:00",
    "2016-03-01T23:30:00+05:30", "2016-03-02T00:00:00", "2016-03-01T23:59:59", "2016-12-31T16:00:00.5+00:00",
    "2016-03-02T07:59:59+09:00", "2016-03-01T20:00:00-12:00",
])
def test_the_business_day_of_a_date_time_is_the_calendar_day_in_china(moment: str) -> None:
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=fast.CHINA_TZ)
    expected = parsed.astimezone(fast.CHINA_TZ).date().isoformat()
    assert fast.business_day(moment) == expected
    assert fast.business_day(moment) == expected  # the cached answer too


@pytest.mark.parametrize(("old", "new"), [
    (b"<AcctSvcrRef>HZB000000000001</AcctSvcrRef>", b"<AcctSvcrRef>HZB0000&#9;00001</AcctSvcrRef>"),
    (b"<AcctSvcrRef>HZB000000000001</AcctSvcrRef>", b"<AcctSvcrRef>HZB0000&#10;00001</AcctSvcrRef>"),
])
def test_a_field_that_would_blur_the_columns_sends_the_statement_to_the_full_reader(old: bytes, new: bytes) -> None:
    xml = _statement()
    assert xml.count(old) >= 1
    with pytest.raises(fast.NotSimple):
        _read(xml.replace(old, new))


def test_a_statement_with_a_dtd_is_refused() -> None:
    xml = _statement().replace(b"<?xml version='1.0' encoding='UTF-8'?>\n", b"", 1)
    hostile = (b'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x "HZB0000000000EVIL">]>'
               + xml.replace(b"<AcctSvcrRef>HZB000000000001</AcctSvcrRef>", b"<AcctSvcrRef>&x;</AcctSvcrRef>", 1))
    with pytest.raises(InvalidInput, match="DTD"):
        _read(hostile)


def test_a_statement_file_with_two_statements_is_refused() -> None:
    xml = _statement()
    head, _, rest = xml.partition(b"<Stmt>")
    body, _, tail = rest.partition(b"</Stmt>")
    with pytest.raises(InvalidInput, match="exactly one"):
        _read(head + b"<Stmt>" + body + b"</Stmt><Stmt>" + body + b"</Stmt>" + tail)


def test_validation_apart_only_for_a_large_file_with_a_core_to_spare(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.xml"
    path.write_bytes(_statement())
    monkeypatch.setattr(fast, "VALIDATE_APART_BYTES", 0)
    monkeypatch.setattr(fast, "VALIDATE_APART_MAX_LOAD", float("inf"))
    assert fast._validate_apart(path)
    assert not fast._validate_apart(path.read_bytes())
    monkeypatch.setattr(fast, "VALIDATE_APART_MAX_LOAD", -1.0)
    assert not fast._validate_apart(path)
    monkeypatch.setattr(fast, "VALIDATE_APART_MAX_LOAD", float("inf"))
    monkeypatch.setattr(fast, "VALIDATE_APART_BYTES", 1 << 40)
    assert not fast._validate_apart(path)
