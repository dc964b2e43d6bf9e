"""Before a run: one state per case in notice, who may still object, and a forecast that is the
run itself when the balances do not change — on both databases."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from huzhu.accounts import service as accounts
from huzhu.apportionment.forecast import expected_share, member_outlook
from huzhu.apportionment.models import RunCase
from huzhu.apportionment.service import apportion_due_cases
from huzhu.clock import FixedClock
from huzhu.members import service as members
from huzhu.members.models import Member
from huzhu.notices import service as notices
from huzhu.notices.models import Case, NoticeState
from huzhu.platform import Platform

from .helpers import (
    DRIVING,
    approved_case,
    at,
    driving_facts,
    import_pool,
    join_member,
    make_staff,
    unique_id_number,
)


def test_each_case_in_notice_has_exactly_one_state(platform: Platform, clock: FixedClock) -> None:
    clock.set(at("2016-02-01"))
    staff = make_staff(platform, clock)
    a, b, objector = (join_member(platform, clock, name=n) for n in ("甲", "乙", "丙"))
    clock.set(at("2016-02-03"))
    first = approved_case(platform, clock, staff, a, plan="comprehensive-accident", benefit="accidental_death",
                          incident=date(2016, 2, 2))
    clock.set(at("2016-02-05"))
    second = approved_case(platform, clock, staff, b, plan="comprehensive-accident", benefit="accidental_death",
                           incident=date(2016, 2, 4))
    with platform.session() as s:
        notices.file_objection(s, actor=accounts.account_or_raise(s, objector.account_id), case_id=first,
                               member_id=objector.member_id, reason="请核实事故经过。", now=clock.now())
    with platform.factory() as s:
        board = notices.notice_board(s, now=at("2016-02-11"))  # the first notice is over, the second is not
        assert [c.id for c in board[NoticeState.HELD]] == [first]
        assert [c.id for c in board[NoticeState.RUNNING]] == [second]
        assert board[NoticeState.DUE] == []
        board = notices.notice_board(s, now=at("2016-02-13"))
        assert ([c.id for c in board[NoticeState.HELD]], [c.id for c in board[NoticeState.DUE]],
                board[NoticeState.RUNNING]) == ([first], [second], [])
        assert notices.notice_state(s, s.get(Case, second), now=at("2016-02-13")) == NoticeState.DUE
        assert [c.id for c in notices.due_cases(s, now=at("2016-02-13"))] == [second]  # the run agrees


def test_who_may_still_object(platform: Platform, clock: FixedClock) -> None:
    clock.set(at("2016-02-01"))
    staff = make_staff(platform, clock)
    claimant = join_member(platform, clock, name="甲")
    family = join_member(platform, clock, name="乙")
    with platform.session() as s:
        outside = members.add_member(s, account_id=family.account_id, name="乙母", now=clock.now(),
                                     id_number=unique_id_number(date(1960, 1, 1)), relationship="parent")  # in no plan
        outside_id = outside.id
    clock.set(at("2016-02-03"))
    case_id = approved_case(platform, clock, staff, claimant, plan="comprehensive-accident",
                            benefit="accidental_death", incident=date(2016, 2, 2))
    with platform.session() as s:
        case, account = s.get(Case, case_id), accounts.account_or_raise(s, family.account_id)
        assert [m.id for m in notices.possible_objectors(s, account=account, case=case)] == [family.member_id]
        assert outside_id not in [m.id for m in notices.possible_objectors(s, account=account, case=case)]
        own = accounts.account_or_raise(s, claimant.account_id)
        assert notices.possible_objectors(s, account=own, case=case) == []  # the claimant does not object
        notices.file_objection(s, actor=account, case_id=case_id, member_id=family.member_id, reason="请核实事故经过。",
                               now=clock.now())
        assert notices.possible_objectors(s, account=account, case=case) == []
        assert [(o.id, c.id) for o, c in notices.objections_of_account(s, account=account)][0][1] == case_id


def test_the_forecast_is_the_run_when_balances_stay(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    """A benefit that does not divide evenly: the expected share, the extra fen, the collected amount
    and the shortfall are the run's; a member at the minimum balance is warned."""
    clock.set(at("2016-02-01"))
    staff = make_staff(platform, clock)
    pool = import_pool(platform, clock, tmp_path / "pool.csv", ["9.00"] * 7 + ["3.00", "3.50", "4.00"])
    claimant = join_member(platform, clock, name="驾驶员", plans=(DRIVING,))
    clock.set(at("2016-02-03"))
    case_id = approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                            incident=date(2016, 2, 2), facts=driving_facts("20.03"), report_facts=driving_facts("20.03"))
    plan = platform.plans[DRIVING]
    with platform.factory() as s:
        case = s.get(Case, case_id)
        forecast = expected_share(s, case=case, plan=plan, now=clock.now())
        outlook = member_outlook(s, member=s.get(Member, pool[7]), plans=platform.plans, now=clock.now())
        claimant_outlook = member_outlook(s, member=s.get(Member, claimant.member_id), plans=platform.plans,
                                          now=clock.now())
    assert (forecast.sharing_members, forecast.share_fen, forecast.plus_one_fen) == (10, 200, 3)
    assert (forecast.collected_fen, forecast.shortfall_fen, forecast.run_after) == (2003, 0, case.notice_ends_at)
    assert [u.expected.case_no for u in outlook.upcoming] == [case.case_no]
    assert outlook.upcoming[0].share_fen == 200 and outlook.after_upcoming_fen == 100
    assert outlook.low and outlook.cases_covered == 1  # 3.00 pays one more case; then cover pauses
    assert claimant_outlook.upcoming == []  # nobody shares their own case
    clock.set(case.notice_ends_at + timedelta(hours=1))
    with platform.session() as s:
        run = apportion_due_cases(s, plans=platform.plans, now=clock.now())
        assert run is not None
        done = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
        assert (done.sharing_members, done.level_fen, done.leftover_fen, done.collected_fen, done.shortfall_fen) == (
            forecast.sharing_members, forecast.share_fen, forecast.plus_one_fen, forecast.collected_fen,
            forecast.shortfall_fen)
