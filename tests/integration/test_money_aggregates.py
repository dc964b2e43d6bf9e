"""Money sums leave the database as ``int`` fen on every database.

PostgreSQL widens ``SUM(bigint)`` to ``numeric`` (a ``Decimal`` in Python), which once made the
home page and the operating report fail there while SQLite was fine. Every money aggregate goes
through ``db.sum_fen`` (or its text form), and the guard below keeps it that way.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select, text

from huzhu.db import SQL_SUM_FEN, sum_fen
from huzhu.demo import run_demo
from huzhu.ledger.invariants import check_ledger
from huzhu.ledger.models import LedgerAccount
from huzhu.ledger.service import custody_cash_balance
from huzhu.platform import Platform
from huzhu.reports.service import chart_series, public_stats

SRC = Path(__file__).resolve().parents[2] / "src" / "huzhu"


def test_sums_are_exact_integers_even_past_32_bits(platform: Platform) -> None:
    big = 2**40 + 7  # fen; the sum of three is past what a 32-bit or float-rounded path would keep
    with platform.session() as s:
        for n in range(3):
            s.add(LedgerAccount(code=f"test:{n}", kind="test", debits_must_not_exceed_credits=False,
                                debits_posted=big, credits_posted=0, debits_pending=0, credits_pending=0,
                                created_at=platform.clock.now()))
    with platform.factory() as s:
        typed = s.scalar(select(sum_fen(LedgerAccount.debits_posted)).where(LedgerAccount.kind == "test"))
        raw = s.scalar(text(f"SELECT {SQL_SUM_FEN.format('debits_posted')} FROM ledger_accounts WHERE kind = 'test'"))
        empty = s.scalar(select(sum_fen(LedgerAccount.debits_posted)).where(LedgerAccount.kind == "none"))
        untyped = s.scalar(select(func.sum(LedgerAccount.debits_posted)).where(LedgerAccount.kind == "test"))
    assert (typed, raw, empty) == (3 * big, 3 * big, 0)
    assert type(typed) is int and type(raw) is int and type(empty) is int
    # What the helper exists for: the bare SUM is a Decimal on PostgreSQL.
    assert untyped == 3 * big and (type(untyped) is int) == (platform.engine.dialect.name == "sqlite")


def test_every_public_figure_is_integer_fen_after_the_story(platform: Platform, settings) -> None:  # noqa: ANN001
    from rich.console import Console

    run_demo(settings, members=200, console=Console(file=None, quiet=True))
    with platform.factory() as s:
        stats = public_stats(s)
        series = chart_series(s)
        assert stats["paid_fen"] == 100_000_00 + 90_000_00 - stats["shortfall_fen"]
        assert all(type(v) is int for v in stats.values()), stats
        assert all(type(v) is int for _month, v in series["aid"]) and series["aid"]
        assert type(custody_cash_balance(s)) is int
        assert check_ledger(s) == []


def test_no_money_aggregate_bypasses_the_integer_cast() -> None:
    """``func.sum`` only inside ``db.sum_fen``; a ``SUM(`` in SQL text only as ``CAST(… SUM(…) AS BIGINT)``."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "func.sum(" in line and path.name != "db.py":
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
            for match in re.finditer(r"SUM\(", line):
                before = line[: match.start()]
                if not re.search(r"CAST\((COALESCE\()?$", before) and path.name != "db.py":
                    offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not offenders, "money sums must go through db.sum_fen / SQL_SUM_FEN:\n" + "\n".join(offenders)
