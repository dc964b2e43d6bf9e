"""Apportionment runs on a real database: the set-based SQL path equals the pure reference
``allocate_shares`` member by member; shortfalls, suspensions, reruns and crashes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from huzhu.apportionment import service as apportionment
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.apportionment.shares import allocate_shares, leftover_pivot
from huzhu.clock import FixedClock
from huzhu.jobs import run_jobs
from huzhu.ledger.invariants import check_ledger
from huzhu.members import service as members
from huzhu.members.models import Enrollment, EnrollmentEvent
from huzhu.notices.models import Case
from huzhu.platform import Platform
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import verify_chain

from .helpers import (
    ACCIDENT,
    DRIVING,
    Joined,
    approved_case,
    at,
    available,
    balances,
    count_rows,
    driving_facts,
    enrollment_status,
    import_pool,
    join_member,
    make_staff,
    shares_of_transfer,
    sharing_capacities,
)

# Balances of an imported pool: below the 3.00 minimum (suspended at import), at it, just above,
# between one and two shares, and well above.
POOL = ["0.00", "1.00", "2.99", "3.00", "3.01", "4.50", "5.99", "6.00", "9.00", "12.00", "100.00"] * 3

TABLES = ("apportionment_runs", "run_cases", "ledger_transfers", "ledger_entries", "enrollment_events",
          "public_records", "bank_transactions")


def _run(platform: Platform, clock: FixedClock):  # noqa: ANN202
    return run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=clock.now())


def _expected(capacities: dict[int, int], benefit: int, pivot: int) -> dict[int, int]:
    _, shares = allocate_shares(capacities, benefit, pivot=pivot)
    return {m: s for m, s in shares.items() if s > 0}


def _setup_one_case(platform: Platform, clock: FixedClock, tmp_path: Path, amount: str,
                    pool: list[str] = POOL) -> tuple[Joined, int, list[int]]:
    staff = make_staff(platform, clock)
    pool_ids = import_pool(platform, clock, tmp_path / "pool.csv", pool)
    claimant = join_member(platform, clock, name="司机甲", plans=(DRIVING,))
    clock.set(at("2015-03-05"))
    case_id = approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                            incident=date(2015, 3, 3), facts=driving_facts(amount))
    return claimant, case_id, pool_ids


def test_sql_shares_equal_the_reference_with_leftover_fen(platform: Platform, clock: FixedClock,
                                                          tmp_path: Path) -> None:
    claimant, case_id, pool_ids = _setup_one_case(platform, clock, tmp_path, "37.37")
    with platform.factory() as s:
        capacities = sharing_capacities(s, plan=DRIVING, exclude=claimant.member_id)
        before = balances(s)
    # The members below the minimum were suspended at import and do not share.
    assert len(capacities) == 24 and set(capacities.values()) == {300}

    # Notice not yet ended: nothing is shared.
    clock.set(at("2015-03-12", 9))
    assert _run(platform, clock).run_no is None
    clock.set(at("2015-03-13"))
    report = _run(platform, clock)
    assert report.run_no is not None and len(report.cases_shared) == 1

    with platform.factory() as s:
        case = s.get(Case, case_id)
        rc = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
        assert rc is not None and case is not None
        assert rc.leftover_pivot_member_id == leftover_pivot(case.case_no, max(capacities))
        allocation, _ = allocate_shares(capacities, 3737, pivot=rc.leftover_pivot_member_id)
        expected = _expected(capacities, 3737, rc.leftover_pivot_member_id)
        got = shares_of_transfer(s, rc.transfer_id)
        assert got == expected
        # 3737 fen over 24 members: 155 each and 17 members pay one fen more.
        assert (rc.level_fen, rc.leftover_fen) == (allocation.level, allocation.leftover) == (155, 17)
        assert sorted(set(got.values())) == [155, 156]
        assert (rc.collected_fen, rc.shortfall_fen) == (3737, 0)
        assert (case.collected_fen, case.shortfall_fen) == (3737, 0)
        assert rc.sharing_members == rc.paying_members == 24
        assert case.status == "paid"
        # Every member's balance moved by exactly their share; the claimant paid nothing.
        after = balances(s)
        for member_id, share in got.items():
            assert before[member_id] - after[member_id] == share
        assert claimant.member_id not in got
        assert after[claimant.member_id] == before[claimant.member_id] == 900
        assert check_ledger(s) == []
        assert verify_chain(s) == []
        # The per-member proof matches the published root.
        proof = apportionment.member_share_proof(s, case=case, member_id=next(iter(got)))
        assert proof is not None and proof["root_hash"] == proof["published_root"] == rc.shares_root


def test_pool_too_small_publishes_the_shortfall(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    claimant, case_id, _ = _setup_one_case(platform, clock, tmp_path, "300.00", pool=["9.00", "3.00", "1.00"])
    with platform.factory() as s:
        capacities = sharing_capacities(s, plan=DRIVING, exclude=claimant.member_id)
    assert sorted(capacities.values()) == [300, 300]
    clock.set(at("2015-03-13"))
    report = _run(platform, clock)
    with platform.factory() as s:
        case = s.get(Case, case_id)
        rc = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
        run = s.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == report.run_no))
        assert case is not None and rc is not None and run is not None
        assert (case.collected_fen, case.shortfall_fen) == (600, 300_00 - 600)
        assert (rc.collected_fen, rc.shortfall_fen, rc.level_fen, rc.leftover_fen) == (600, 29_400, 300, 0)
        assert (run.total_benefit_fen, run.total_collected_fen, run.total_shortfall_fen) == (30_000, 600, 29_400)
        assert shares_of_transfer(s, rc.transfer_id) == _expected(capacities, 30_000, rc.leftover_pivot_member_id)
        # The shortfall is in the public record of the share and of the run.
        payloads = [r.payload for r in s.scalars(select(PublicRecord).where(PublicRecord.kind.in_(("case_shared", "run"))))]
        assert any('"shortfall":"294.00"' in p for p in payloads)
        assert any('"total_shortfall":"294.00"' in p for p in payloads)
        # Paid what was raised.
        assert case.status == "paid"
        paid = s.scalar(text("SELECT SUM(amount_fen) FROM bank_transactions WHERE direction = 'DBIT' AND rejected = false"))
        assert paid == 600
        assert check_ledger(s) == []


def test_two_cases_in_one_run_then_suspension_and_resumption(platform: Platform, clock: FixedClock,
                                                            tmp_path: Path) -> None:
    staff = make_staff(platform, clock)
    import_pool(platform, clock, tmp_path / "pool.csv", POOL)
    first = join_member(platform, clock, name="司机甲", plans=(DRIVING,))
    second = join_member(platform, clock, name="司机乙", plans=(DRIVING,))
    clock.set(at("2015-03-05"))
    # The first case is larger than the pool can raise: everyone pays their capacity.
    case1 = approved_case(platform, clock, staff, first, plan=DRIVING, benefit="third_party_liability",
                          incident=date(2015, 3, 3), facts=driving_facts("1000.00"))
    clock.set(at("2015-03-05", 11))
    case2 = approved_case(platform, clock, staff, second, plan=DRIVING, benefit="third_party_liability",
                          incident=date(2015, 3, 4), facts=driving_facts("40.21"))
    with platform.factory() as s:
        caps1 = sharing_capacities(s, plan=DRIVING, exclude=first.member_id)
        before = balances(s)
        active_before = s.scalar(text("SELECT COUNT(*) FROM enrollments WHERE status = 'active'"))

    clock.set(at("2015-03-13"))
    report = _run(platform, clock)
    assert report.cases_shared and len(report.cases_shared) == 2

    with platform.factory() as s:
        run = s.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == report.run_no))
        rc1 = s.scalar(select(RunCase).where(RunCase.case_id == case1))
        rc2 = s.scalar(select(RunCase).where(RunCase.case_id == case2))
        assert run is not None and rc1 is not None and rc2 is not None
        assert rc1.run_id == rc2.run_id == run.id
        got1 = shares_of_transfer(s, rc1.transfer_id)
        assert got1 == _expected(caps1, 100_000, rc1.leftover_pivot_member_id)
        assert set(got1.values()) == {300} and rc1.shortfall_fen == 100_000 - 300 * len(caps1)
        # The second case sees the balances the first case left.
        # The second case's sharing set is the first one's, with the claimants swapped, and sees the
        # balances the first case left.
        pool2 = (set(caps1) - {second.member_id}) | {first.member_id}
        caps2 = {m: max(0, min(300, before[m] - got1.get(m, 0))) for m in pool2}
        assert 0 in caps2.values() and any(0 < c < 300 for c in caps2.values())
        got2 = shares_of_transfer(s, rc2.transfer_id)
        assert got2 == _expected(caps2, 4021, rc2.leftover_pivot_member_id)
        assert rc2.members_limited_by_balance > 0 and rc2.shortfall_fen == 0 and rc2.collected_fen == 4021
        # Nobody paid more than the cap per case, nor more than they had.
        after = balances(s)
        for m in set(got1) | set(got2):
            assert got1.get(m, 0) <= 300 and got2.get(m, 0) <= 300
            assert after[m] == before[m] - got1.get(m, 0) - got2.get(m, 0) >= 0
        assert run.sharing_members == len(set(got1) | set(got2))
        assert run.total_collected_fen == rc1.collected_fen + rc2.collected_fen

        # Members left below 3.00 are suspended by the run, with an event naming the run.
        below = {m for m in set(caps1) | {first.member_id} if after[m] < 300}
        assert below
        rows = s.execute(text(
            "SELECT e.member_id, e.status, ev.run_id, ev.balance_fen FROM enrollments e "
            "JOIN enrollment_events ev ON ev.enrollment_id = e.id AND ev.status = 'suspended' "
            "WHERE ev.run_id = :run"), {"run": run.id}).all()
        assert {r.member_id for r in rows} == below
        assert all(r.status == "suspended" and r.balance_fen == after[r.member_id] for r in rows)
        assert run.suspended_enrollments == len(below)
        assert s.scalar(text("SELECT COUNT(*) FROM enrollments WHERE status = 'active'")) == active_before - len(below)
        assert check_ledger(s) == []
        victim = min(below)
        victim_enrollment = s.scalar(select(Enrollment.id).where(Enrollment.member_id == victim))
        assert victim_enrollment is not None

    # A top-up that brings the balance to the minimum resumes cover.
    with platform.session() as s:
        member = members.member_or_raise(s, victim)
        members.top_up(s, platform.custodian, plans=platform.plans, member=member, amount_fen=300,
                       now=clock.now(), idempotency_key="topup-victim")
    with platform.factory() as s:
        assert enrollment_status(s, victim_enrollment) == "active"
        last = s.scalar(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == victim_enrollment)
                        .order_by(EnrollmentEvent.id.desc()).limit(1))
        assert last is not None and last.status == "active" and "top-up" in last.reason
        assert available(s, victim) >= 300
        assert check_ledger(s) == []


def test_running_twice_charges_nobody_twice(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    _, case_id, _ = _setup_one_case(platform, clock, tmp_path, "12.34")
    clock.set(at("2015-03-13"))
    assert _run(platform, clock).run_no is not None
    with platform.factory() as s:
        once = balances(s), count_rows(s, *TABLES)
    # The same moment, and later: nothing new is shared or paid.
    for moment in (at("2015-03-13"), at("2015-03-20")):
        report = _run(platform, clock.__class__(moment))
        assert report.run_no is None and report.cases_shared == [] and report.cases_paid == []
        with platform.session() as s:
            assert apportionment.apportion_due_cases(s, plans=platform.plans, now=moment) is None
    with platform.factory() as s:
        twice = balances(s), count_rows(s, *TABLES)
        # Reconciliation may add a row of its own; no money row moved.
        assert twice[0] == once[0]
        for table in ("apportionment_runs", "run_cases", "ledger_transfers", "ledger_entries", "bank_transactions"):
            assert twice[1][table] == once[1][table], table
        assert s.get(Case, case_id).status == "paid"  # type: ignore[union-attr]
        assert check_ledger(s) == []


@pytest.mark.parametrize("crash_at", ["suspend_underfunded", "run_record"])
def test_a_crash_mid_run_leaves_nothing_and_a_rerun_succeeds(
    platform: Platform, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    _, case_id, _ = _setup_one_case(platform, clock, tmp_path, "12.34")
    clock.set(at("2015-03-13"))
    with platform.factory() as s:
        before = balances(s), count_rows(s, *TABLES)

    def boom(*_args: object, **_kwargs: object) -> None:
        # The shares were already written in this transaction when we get here.
        raise RuntimeError("power cut")

    if crash_at == "suspend_underfunded":
        monkeypatch.setattr(apportionment, "suspend_underfunded", boom)
    else:
        real = apportionment.append_record

        def append_then_maybe_crash(session, *, kind, **kwargs):  # noqa: ANN001, ANN202
            if kind == "run":
                written = session.scalar(text("SELECT COUNT(*) FROM ledger_entries e JOIN ledger_transfers t "
                                              "ON t.id = e.transfer_id WHERE t.kind = 'share'"))
                assert written > 0
                raise RuntimeError("power cut")
            return real(session, kind=kind, **kwargs)

        monkeypatch.setattr(apportionment, "append_record", append_then_maybe_crash)

    with pytest.raises(RuntimeError, match="power cut"):
        _run(platform, clock)
    with platform.factory() as s:
        assert (balances(s), count_rows(s, *TABLES)) == before
        case = s.get(Case, case_id)
        assert case is not None and case.status == "in_notice" and case.collected_fen is None
        assert case.run_id is None

    monkeypatch.undo()
    report = _run(platform, clock)
    assert report.run_no is not None and len(report.cases_shared) == 1 and len(report.cases_paid) == 1
    with platform.factory() as s:
        assert s.get(Case, case_id).status == "paid"  # type: ignore[union-attr]
        assert s.scalar(text("SELECT COUNT(*) FROM apportionment_runs")) == 1
        assert check_ledger(s) == []
        assert verify_chain(s) == []


def test_claimant_leavers_suspended_and_other_plans_do_not_share(platform: Platform, clock: FixedClock,
                                                                  tmp_path: Path) -> None:
    staff = make_staff(platform, clock)
    pool_ids = import_pool(platform, clock, tmp_path / "pool.csv", ["9.00", "9.00", "9.00", "2.00"])
    suspended_at_import = pool_ids[3]
    claimant = join_member(platform, clock, name="司机甲", plans=(DRIVING,))
    leaver = join_member(platform, clock, name="退出者", plans=(DRIVING,))
    withdrawer = join_member(platform, clock, name="取款者", plans=(DRIVING,))
    other_plan = join_member(platform, clock, name="意外险会员", plans=(ACCIDENT,))
    both = join_member(platform, clock, name="双计划会员", plans=(ACCIDENT, DRIVING))
    clock.set(at("2015-03-04"))
    with platform.session() as s:
        enrollment = members.enrollment_or_raise(s, leaver.enrollment_ids[0])
        members.leave_plan(s, platform.custodian, plans=platform.plans, enrollment=enrollment,
                           bank_account="6222020000000000099", now=clock.now(), idempotency_key="leave-1")
        member = members.member_or_raise(s, withdrawer.member_id)
        members.withdraw(s, platform.custodian, plans=platform.plans, member=member, amount_fen=700,
                         bank_account="6222020000000000098", now=clock.now(), idempotency_key="withdraw-1")
    with platform.factory() as s:
        assert enrollment_status(s, withdrawer.enrollment_ids[0]) == "suspended"
        assert available(s, leaver.member_id) == 0
    clock.set(at("2015-03-05"))
    case_id = approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                            incident=date(2015, 3, 3), facts=driving_facts("1.00"))
    clock.set(at("2015-03-13"))
    _run(platform, clock)
    with platform.factory() as s:
        rc = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
        assert rc is not None
        got = shares_of_transfer(s, rc.transfer_id)
        sharing = {pool_ids[0], pool_ids[1], pool_ids[2], both.member_id}
        assert set(got) == sharing
        assert rc.sharing_members == 4 and sum(got.values()) == 100 and set(got.values()) == {25}
        for outsider in (claimant.member_id, leaver.member_id, withdrawer.member_id, other_plan.member_id,
                         suspended_at_import):
            assert outsider not in got
        assert available(s, withdrawer.member_id) == 200
        assert check_ledger(s) == []


def test_two_job_runs_at_once_share_each_case_once(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    """A double click, or cron and an admin together: the runs take turns, nobody pays twice."""
    import threading

    _, case_id, _ = _setup_one_case(platform, clock, tmp_path, "37.37")
    clock.set(at("2015-03-20"))
    reports, failures = [], []

    def run() -> None:
        try:
            reports.append(_run(platform, clock))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(bool(r.run_no) for r in reports) == [False, True]
    assert sum(len(r.cases_paid) for r in reports) == 1
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(RunCase)) == 1
        assert check_ledger(s) == []
