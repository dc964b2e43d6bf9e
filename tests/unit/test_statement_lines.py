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
    with pytest.raises(InvalidInput, match="schema"):
        _read(path)


def test_a_statement_whose_balance_does_not_add_up_is_refused() -> None:
    xml = _statement()
    tampered = xml.replace(b'<Amt Ccy="CNY">9.01</Amt>', b'<Amt Ccy="CNY">9.11</Amt>', 1)
    assert tampered != xml
    with pytest.raises(InvalidInput, match="closing"):
        _read(tampered)
