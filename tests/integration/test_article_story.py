"""The source article, end to end on a real database: two claims → notice → objection → run → payout."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from huzhu.clock import FixedClock
from huzhu.demo import replay_article, write_pool_csv
from huzhu.exports import EMPTY_HEADERS, export
from huzhu.ledger.invariants import check_ledger
from huzhu.members.importer import import_members
from huzhu.notices.models import Case
from huzhu.platform import Platform
from huzhu.transparency.service import verify_chain


def test_article_story_pays_both_cases_and_books_balance(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    pool = tmp_path / "pool.csv"
    write_pool_csv(pool, count=40_000)
    with platform.session() as session:
        result = import_members(session, path=pool, plans=platform.plans, now=clock.now())
    assert result.members == 40_000

    story = replay_article(platform, clock, log=lambda _m: None)

    with platform.factory() as s:
        peng = s.get(Case, story.peng_case.id)
        zhou = s.get(Case, story.zhou_case.id)
        assert (peng.masked_name, peng.gender, peng.age, peng.province_code) == ("彭*", "F", 25, "45")
        assert peng.amount_fen == 100_000_00 and zhou.amount_fen == 90_000_00
        assert peng.status == zhou.status == "paid"
        # 40,000 members at most 3.00 each raise the full 190,000.00 for both cases.
        assert peng.collected_fen == 100_000_00 and peng.shortfall_fen == 0
        assert zhou.collected_fen == 90_000_00 and zhou.shortfall_fen == 0
        # No member paid more than the cap for either case, and each paid each case once.
        worst = s.execute(text(
            "SELECT MAX(e.amount), COUNT(*) FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id "
            "WHERE t.kind = 'share' AND e.direction = 1")).one()
        assert worst[0] <= 300
        paid_out = dict(s.execute(text(
            "SELECT i.kind, SUM(b.amount_fen) FROM custody_instructions i "
            "JOIN bank_transactions b ON b.end_to_end_id = i.end_to_end_id AND b.rejected = false GROUP BY i.kind")).all())
        # The aid, and 彭静's own remaining balance (two 9.00 deposits) refunded to her beneficiary.
        assert paid_out == {"payout": 190_000_00, "refund": 18_00}
        assert check_ledger(s) == []
        assert verify_chain(s) == []
        assert s.scalar(select(func.count()).select_from(Case)) == 2
        # Open data always has the same columns, with or without rows.
        for dataset, columns in EMPTY_HEADERS.items():
            assert export(s, dataset, "csv").splitlines()[0] == "\ufeff" + ",".join(columns)
