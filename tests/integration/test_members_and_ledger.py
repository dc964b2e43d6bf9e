"""Members and money: joining with a deposit through the custodian, eligibility at the boundaries,
idempotency, withdrawals and leaving (posted or voided refunds), and the ledger invariants —
which must hold after a story and name what broke after a deliberate corruption."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from huzhu.clock import FixedClock
from huzhu.config import get_settings
from huzhu.custody.models import BankTransaction, CustodyInstruction
from huzhu.custody.service import SimulatedCustodian
from huzhu.errors import Conflict, IdempotencyConflict, InsufficientFunds, InvalidInput, NotEligible
from huzhu.identity import check_character, convert_15_to_18
from huzhu.jobs import run_jobs
from huzhu.ledger.invariants import check_ledger
from huzhu.ledger.models import Entry, LedgerAccount, Transfer
from huzhu.ledger.service import transfer_state
from huzhu.members import service as members
from huzhu.members.models import Enrollment, EnrollmentEvent
from huzhu.notices.models import Case
from huzhu.platform import Platform
from huzhu.transparency.merkle import leaf_hash

from .helpers import (
    ACCIDENT,
    DRIVING,
    QUARK_NO1,
    approved_case,
    at,
    available,
    count_rows,
    driving_facts,
    enrollment_status,
    import_pool,
    join_member,
    make_staff,
    unique_id_number,
)

WRITES = ("accounts", "members", "enrollments", "enrollment_events", "ledger_accounts", "ledger_transfers",
          "ledger_entries", "bank_transactions", "custody_instructions")
NO_ANSWERS = {"hospitalised_2y": False, "cancer_ever": False, "major_organ_disease": False,
              "pending_diagnosis": False}


def _new_member(platform: Platform, clock: FixedClock, birth: date, **kwargs: str) -> int:
    with platform.session() as s:
        member = members.add_member(s, account_id=None, name="新会员", now=clock.now(),
                                    id_number=unique_id_number(birth, **kwargs))
        return member.id


def _join(platform: Platform, clock: FixedClock, member_id: int, plan: str, *, key: str,
          answers: dict[str, bool] | None = None, custodian: SimulatedCustodian | None = None) -> Enrollment:
    with platform.session() as s:
        member = members.member_or_raise(s, member_id)
        return members.join_plan(s, custodian or platform.custodian, plans=platform.plans, member=member,
                                 plan_code=plan, now=clock.now(), idempotency_key=key, health_answers=answers)


def _refused_without_writes(platform: Platform, error: type[Exception], action, match: str | None = None):  # noqa: ANN001, ANN202
    """Run ``action(session)`` in a unit of work that would COMMIT whatever it flushed; it must raise
    ``error`` and leave every table as it was."""
    with platform.factory() as s:
        before = count_rows(s, *WRITES)
    with platform.session() as s, pytest.raises(error, match=match) as info:
        action(s)
    with platform.factory() as s:
        assert count_rows(s, *WRITES) == before
    return info.value


# ------------------------------------------------------------------------------- joining


def test_join_takes_the_deposit_through_the_custodian(platform: Platform, clock: FixedClock) -> None:
    member_id = _new_member(platform, clock, date(1990, 6, 15))
    enrollment = _join(platform, clock, member_id, QUARK_NO1, key="join-1", answers=NO_ANSWERS)
    assert enrollment.status == "active"
    assert enrollment.joined_on == date(2015, 3, 1) == enrollment.coverage_anchor_on
    with platform.factory() as s:
        assert available(s, member_id) == 900
        transfer = s.scalar(select(Transfer).where(Transfer.idempotency_key == "join-1"))
        assert transfer is not None
        assert (transfer.kind, transfer.status, transfer.amount, transfer.member_id) == ("deposit", "posted", 900,
                                                                                          member_id)
        bank = s.scalar(select(BankTransaction).where(BankTransaction.end_to_end_id == transfer.external_ref))
        assert bank is not None and (bank.direction, bank.amount_fen, bank.rejected) == ("CRDT", 900, False)
        events = s.scalars(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == enrollment.id)).all()
        assert [(e.status, e.reason, e.balance_fen) for e in events] == [("active", "joined", 900)]
        assert check_ledger(s) == []


@pytest.mark.parametrize(
    ("plan", "birth", "ok"),
    [
        (QUARK_NO1, date(1997, 3, 1), True),    # exactly 18 on the joining day
        (QUARK_NO1, date(1997, 3, 2), False),   # 18 tomorrow
        (QUARK_NO1, date(1964, 3, 2), True),    # 50, turns 51 tomorrow
        (QUARK_NO1, date(1964, 3, 1), False),   # 51 today
        (ACCIDENT, date(2015, 2, 1), True),     # 28 days old
        (ACCIDENT, date(2015, 2, 2), False),    # 27 days old
        (ACCIDENT, date(1944, 3, 2), True),     # 70
        (ACCIDENT, date(1944, 3, 1), False),    # 71 today
    ],
)
def test_age_bands_at_the_boundary(platform: Platform, clock: FixedClock, plan: str, birth: date, ok: bool) -> None:
    member_id = _new_member(platform, clock, birth)
    answers = NO_ANSWERS if plan == QUARK_NO1 else None
    if ok:
        assert _join(platform, clock, member_id, plan, key="join", answers=answers).status == "active"
        return

    def attempt(s):  # noqa: ANN001, ANN202
        members.join_plan(s, platform.custodian, plans=platform.plans, member=members.member_or_raise(s, member_id),
                          plan_code=plan, now=clock.now(), idempotency_key="join", health_answers=answers)

    error = _refused_without_writes(platform, NotEligible, attempt)
    assert error.details["problems"] in (["too_young"], ["too_old"])


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        (None, "health_declaration_missing"),
        ({"hospitalised_2y": False}, "health_declaration_missing"),
        ({**NO_ANSWERS, "cancer_ever": True}, "health_declaration_failed"),
        ({**NO_ANSWERS, "smoker": False}, "health_declaration_unknown_question"),
    ],
)
def test_health_declaration_required_for_quark_no1(platform: Platform, clock: FixedClock,
                                                  answers: dict[str, bool] | None, problem: str) -> None:
    member_id = _new_member(platform, clock, date(1990, 1, 1))

    def attempt(s):  # noqa: ANN001, ANN202
        members.join_plan(s, platform.custodian, plans=platform.plans, member=members.member_or_raise(s, member_id),
                          plan_code=QUARK_NO1, now=clock.now(), idempotency_key="join", health_answers=answers)

    error = _refused_without_writes(platform, NotEligible, attempt)
    assert problem in error.details["problems"]
    # The accident plan needs no declaration.
    assert _join(platform, clock, member_id, ACCIDENT, key="join-accident").status == "active"


def test_duplicate_and_invalid_id_numbers_are_refused(platform: Platform, clock: FixedClock) -> None:
    number = unique_id_number(date(1966, 6, 6), gender="M")
    with platform.session() as s:
        members.add_member(s, account_id=None, name="原会员", id_number=number, now=clock.now())

    def add(id_number: str):  # noqa: ANN202
        return lambda s: members.add_member(s, account_id=None, name="重复", id_number=id_number, now=clock.now())

    _refused_without_writes(platform, Conflict, add(number), match="already registered")
    _refused_without_writes(platform, Conflict, add(f" {number[:6]} {number[6:14]} {number[14:].lower()} "))
    bad_check = number[:17] + ("0" if number[17] != "0" else "1")
    _refused_without_writes(platform, InvalidInput, add(bad_check), match="check character")
    _refused_without_writes(platform, InvalidInput, add("11010119900230001" + check_character("11010119900230001")),
                            match="not a real birth date")
    _refused_without_writes(platform, InvalidInput, add("12345"), match="18 characters")
    _refused_without_writes(platform, InvalidInput, add("99010119900101001" + "0"))
    # The legacy 15-digit form of an ID already registered is the same person.
    legacy = "110101660606" + number[14:17]
    assert convert_15_to_18(legacy) == number
    _refused_without_writes(platform, Conflict, add(legacy), match="already registered")


def test_second_enrollment_in_the_same_plan_is_refused(platform: Platform, clock: FixedClock) -> None:
    who = join_member(platform, clock, plans=(ACCIDENT,))

    def again(s):  # noqa: ANN001, ANN202
        members.join_plan(s, platform.custodian, plans=platform.plans,
                          member=members.member_or_raise(s, who.member_id), plan_code=ACCIDENT, now=clock.now(),
                          idempotency_key="join-again")

    _refused_without_writes(platform, Conflict, again, match="already in plan")

    def unknown(s):  # noqa: ANN001, ANN202
        members.join_plan(s, platform.custodian, plans=platform.plans,
                          member=members.member_or_raise(s, who.member_id), plan_code="no-such-plan",
                          now=clock.now(), idempotency_key="join-unknown")

    _refused_without_writes(platform, Exception, unknown, match="unknown plan")


# ------------------------------------------------------------------------------- idempotency


def test_same_key_replays_and_a_different_amount_conflicts(platform: Platform, clock: FixedClock) -> None:
    who = join_member(platform, clock, plans=(ACCIDENT,))

    def top_up(amount: int, key: str = "topup-1"):  # noqa: ANN202
        with platform.session() as s:
            member = members.member_or_raise(s, who.member_id)
            return members.top_up(s, platform.custodian, plans=platform.plans, member=member, amount_fen=amount,
                                  now=clock.now(), idempotency_key=key).available

    assert top_up(500) == 1400
    with platform.factory() as s:
        before = count_rows(s, *WRITES)
    assert top_up(500) == 1400  # replay: nothing moves twice
    with platform.factory() as s:
        assert count_rows(s, *WRITES) == before
        assert s.scalar(text("SELECT COUNT(*) FROM bank_transactions WHERE amount_fen = 500")) == 1

    def different(s):  # noqa: ANN001, ANN202
        members.top_up(s, platform.custodian, plans=platform.plans, member=members.member_or_raise(s, who.member_id),
                       amount_fen=600, now=clock.now(), idempotency_key="topup-1")

    _refused_without_writes(platform, IdempotencyConflict, different)
    with platform.factory() as s:
        assert available(s, who.member_id) == 1400
        assert check_ledger(s) == []


def test_a_join_cannot_reuse_another_deposit_key(platform: Platform, clock: FixedClock) -> None:
    """A deposit key names one deposit: another member, another plan, or a later re-join must not
    ride on it (that would enrol without paying)."""
    first = _new_member(platform, clock, date(1990, 2, 2))
    second = _new_member(platform, clock, date(1991, 3, 3))
    _join(platform, clock, first, ACCIDENT, key="shared-key")

    def join(member_id: int, plan: str, answers: dict[str, bool] | None = None):  # noqa: ANN202
        return lambda s: members.join_plan(s, platform.custodian, plans=platform.plans,
                                           member=members.member_or_raise(s, member_id), plan_code=plan,
                                           now=clock.now(), idempotency_key="shared-key", health_answers=answers)

    _refused_without_writes(platform, IdempotencyConflict, join(second, ACCIDENT))
    _refused_without_writes(platform, Conflict, join(first, QUARK_NO1, NO_ANSWERS))
    _refused_without_writes(platform, Conflict, join(first, DRIVING))
    with platform.factory() as s:
        assert available(s, first) == 900
        assert s.scalar(text("SELECT COUNT(*) FROM enrollments")) == 1


# ------------------------------------------------------------------------------- withdraw and leave


def _refund_rows(s, member_id: int) -> list[tuple[str, str, int, bool]]:  # noqa: ANN001
    rows = []
    for instruction in s.scalars(select(CustodyInstruction).where(CustodyInstruction.member_id == member_id)
                                 .order_by(CustodyInstruction.id)):
        pending = s.get(Transfer, instruction.pending_transfer_id)
        bank = s.scalar(select(BankTransaction).where(BankTransaction.end_to_end_id == instruction.end_to_end_id))
        rows.append((pending.status, transfer_state(s, pending), instruction.amount_fen, bank.rejected))
    return rows


def test_withdraw_posts_and_suspends_below_the_minimum(platform: Platform, clock: FixedClock) -> None:
    who = join_member(platform, clock, plans=(ACCIDENT,))

    def withdraw(amount: int, key: str):  # noqa: ANN202
        with platform.session() as s:
            member = members.member_or_raise(s, who.member_id)
            return members.withdraw(s, platform.custodian, plans=platform.plans, member=member, amount_fen=amount,
                                    bank_account="6222020000000000123", now=clock.now(), idempotency_key=key)

    assert withdraw(500, "w1") == "posted"
    with platform.factory() as s:
        assert available(s, who.member_id) == 400
        assert enrollment_status(s, who.enrollment_ids[0]) == "active"
        assert _refund_rows(s, who.member_id) == [("pending", "posted", 500, False)]
    assert withdraw(500, "w1") == "posted"  # replay, though 5.00 is now more than the balance
    with platform.factory() as s:
        assert available(s, who.member_id) == 400
        assert len(_refund_rows(s, who.member_id)) == 1

    def reused_key(s):  # noqa: ANN001, ANN202
        members.withdraw(s, platform.custodian, plans=platform.plans,
                         member=members.member_or_raise(s, who.member_id), amount_fen=100,
                         bank_account="6222020000000000123", now=clock.now(), idempotency_key="w1")

    _refused_without_writes(platform, IdempotencyConflict, reused_key)

    def too_much(s):  # noqa: ANN001, ANN202
        members.withdraw(s, platform.custodian, plans=platform.plans,
                         member=members.member_or_raise(s, who.member_id), amount_fen=401,
                         bank_account="6222020000000000123", now=clock.now(), idempotency_key="w2")

    _refused_without_writes(platform, InsufficientFunds, too_much)

    def bad_account(s):  # noqa: ANN001, ANN202
        members.withdraw(s, platform.custodian, plans=platform.plans,
                         member=members.member_or_raise(s, who.member_id), amount_fen=100,
                         bank_account="12-34", now=clock.now(), idempotency_key="w3")

    _refused_without_writes(platform, InvalidInput, bad_account)

    assert withdraw(200, "w4") == "posted"
    with platform.factory() as s:
        assert available(s, who.member_id) == 200
        assert enrollment_status(s, who.enrollment_ids[0]) == "suspended"
        last = s.scalar(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == who.enrollment_ids[0])
                        .order_by(EnrollmentEvent.id.desc()).limit(1))
        assert last is not None and last.status == "suspended" and last.balance_fen == 200
        assert check_ledger(s) == []


def test_leave_refund_rejected_by_the_bank_is_voided_and_the_balance_restored(platform: Platform,
                                                                               clock: FixedClock) -> None:
    rejecting = SimulatedCustodian(reject_accounts=frozenset({"6222020000000000666"}))
    who = join_member(platform, clock, plans=(ACCIDENT, DRIVING))
    with platform.factory() as s:
        assert available(s, who.member_id) == 1800

    # Leaving one of two plans refunds nothing.
    with platform.session() as s:
        members.leave_plan(s, rejecting, plans=platform.plans, enrollment=members.enrollment_or_raise(
            s, who.enrollment_ids[1]), bank_account=None, now=clock.now(), idempotency_key="leave-driving")
    with platform.factory() as s:
        assert available(s, who.member_id) == 1800
        assert enrollment_status(s, who.enrollment_ids[1]) == "left"

    # Leaving the last plan needs a bank account.
    def no_account(s):  # noqa: ANN001, ANN202
        members.leave_plan(s, rejecting, plans=platform.plans,
                           enrollment=members.enrollment_or_raise(s, who.enrollment_ids[0]), bank_account=None,
                           now=clock.now(), idempotency_key="leave-accident")

    _refused_without_writes(platform, InvalidInput, no_account, match="bank account")

    clock.set(at("2015-03-02"))
    with platform.session() as s:
        members.leave_plan(s, rejecting, plans=platform.plans,
                           enrollment=members.enrollment_or_raise(s, who.enrollment_ids[0]),
                           bank_account="6222020000000000666", now=clock.now(), idempotency_key="leave-accident")
    with platform.factory() as s:
        assert enrollment_status(s, who.enrollment_ids[0]) == "left"
        assert _refund_rows(s, who.member_id) == [("pending", "voided", 1800, True)]
        account = s.get(LedgerAccount, who.ledger_account_id)
        assert account is not None
        assert (account.available, account.debits_pending, account.credits_posted - account.debits_posted) == (
            1800, 0, 1800)
        assert check_ledger(s) == []

    # The money is still the member's: a refund to a good account goes through.
    with platform.session() as s:
        state = members.withdraw(s, rejecting, plans=platform.plans,
                                 member=members.member_or_raise(s, who.member_id), amount_fen=1800,
                                 bank_account="6222020000000000777", now=clock.now(), idempotency_key="refund-2")
    assert state == "posted"
    with platform.factory() as s:
        assert available(s, who.member_id) == 0
        assert _refund_rows(s, who.member_id)[-1] == ("pending", "posted", 1800, False)
        assert check_ledger(s) == []


def test_leave_refunds_the_whole_balance(platform: Platform, clock: FixedClock) -> None:
    who = join_member(platform, clock, plans=(ACCIDENT,))
    with platform.session() as s:
        members.leave_plan(s, platform.custodian, plans=platform.plans,
                           enrollment=members.enrollment_or_raise(s, who.enrollment_ids[0]),
                           bank_account="6222020000000000888", now=clock.now(), idempotency_key="leave")
    with platform.factory() as s:
        assert available(s, who.member_id) == 0
        assert _refund_rows(s, who.member_id) == [("pending", "posted", 900, False)]
        events = [e.status for e in s.scalars(select(EnrollmentEvent).where(
            EnrollmentEvent.enrollment_id == who.enrollment_ids[0]).order_by(EnrollmentEvent.id))]
        assert events == ["active", "left"]
        assert check_ledger(s) == []
    with platform.session() as s, pytest.raises(Conflict):
        members.leave_plan(s, platform.custodian, plans=platform.plans,
                           enrollment=members.enrollment_or_raise(s, who.enrollment_ids[0]),
                           bank_account="6222020000000000888", now=clock.now(), idempotency_key="leave")
    # A member who left may join again (and pays a new deposit).
    enrollment = _join(platform, clock, who.member_id, ACCIDENT, key="rejoin")
    assert enrollment.status == "active"
    with platform.factory() as s:
        assert available(s, who.member_id) == 900


# ------------------------------------------------------------------------------- invariants


def _story(platform: Platform, clock: FixedClock, tmp_path: Path) -> dict[str, int]:
    """Deposits, a top-up, a withdrawal, an imported pool, one case shared and paid."""
    staff = make_staff(platform, clock)
    pool = import_pool(platform, clock, tmp_path / "pool.csv", ["9.00", "6.00", "3.00", "1.00"])
    claimant = join_member(platform, clock, plans=(DRIVING,))
    saver = join_member(platform, clock, plans=(ACCIDENT, DRIVING))
    with platform.session() as s:
        member = members.member_or_raise(s, saver.member_id)
        members.top_up(s, platform.custodian, plans=platform.plans, member=member, amount_fen=1000,
                       now=clock.now(), idempotency_key="story-topup")
        members.withdraw(s, platform.custodian, plans=platform.plans, member=member, amount_fen=300,
                         bank_account="6222020000000000555", now=clock.now(), idempotency_key="story-withdraw")
    clock.set(at("2015-03-05"))
    case_id = approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                            incident=date(2015, 3, 4), facts=driving_facts("7.77"))
    clock.set(at("2015-03-13"))
    report = run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=clock.now())
    assert report.cases_paid and report.reconciliation_matched is True
    with platform.factory() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status == "paid"
        return {"case": case_id, "case_no": int(case.case_no[2:]), "saver_account": saver.ledger_account_id,
                "pool_member": pool[0], "other_account": claimant.ledger_account_id}


def _cli_ledger_check(database_url: str, data_dir: Path) -> tuple[int, str]:
    from huzhu.cli import app

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ledger", "check"], env={"HUZHU_DATABASE_URL": database_url,
                                                                 "HUZHU_MODE": "sandbox",
                                                                 "HUZHU_DATA_DIR": str(data_dir)})
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def _corrupt(platform: Platform, how: str, ids: dict[str, int]) -> None:
    with platform.session() as s:
        if how == "member_total":
            s.execute(text("UPDATE ledger_accounts SET credits_posted = credits_posted + 100 WHERE id = :id"),
                      {"id": ids["saver_account"]})
        elif how == "unbalanced_entry":
            deposit = s.scalar(select(Transfer.id).where(Transfer.idempotency_key == "story-topup"))
            s.add(Entry(transfer_id=deposit, account_id=ids["other_account"], direction=1, amount=5))
        elif how == "bank_row_deleted":
            ref = s.scalar(select(Transfer.external_ref).where(Transfer.idempotency_key == "story-topup"))
            s.execute(text("DELETE FROM bank_transactions WHERE end_to_end_id = :ref"), {"ref": ref})
        elif how == "negative_balance":
            s.execute(text("UPDATE ledger_accounts SET debits_must_not_exceed_credits = false, "
                           "debits_posted = credits_posted + 1 WHERE id = :id"), {"id": ids["saver_account"]})
        elif how == "collected_rewritten":
            s.execute(text("UPDATE cases SET collected_fen = collected_fen - 1 WHERE id = :id"), {"id": ids["case"]})
        elif how == "charged_twice":
            share = s.scalar(select(Transfer).where(Transfer.kind == "share"))
            assert share is not None
            member_leg = s.scalar(select(Entry).where(Entry.transfer_id == share.id, Entry.direction == 1).limit(1))
            pool_leg = s.scalar(select(Entry).where(Entry.transfer_id == share.id, Entry.direction == -1))
            assert member_leg is not None and pool_leg is not None
            again = Transfer(idempotency_key="forged-share", content_hash="0" * 64, kind="share", status="posted",
                             amount=member_leg.amount, entry_count=2, case_id=share.case_id, run_id=share.run_id,
                             memo="forged", created_at=share.created_at)
            s.add(again)
            s.flush()
            s.add_all([Entry(transfer_id=again.id, account_id=member_leg.account_id, direction=1,
                             amount=member_leg.amount),
                       Entry(transfer_id=again.id, account_id=pool_leg.account_id, direction=-1,
                             amount=member_leg.amount)])
        elif how == "public_record_rewritten":
            s.execute(text("UPDATE public_records SET payload = REPLACE(payload, '7.77', '1.77') "
                           "WHERE kind = 'case_noticed'"))
        elif how == "public_record_rehashed":
            # Issue 9's attack: the content changed, its leaf hash recomputed, the next link fixed.
            row = s.execute(text("SELECT id, leaf_index, payload FROM public_records WHERE kind = 'case_noticed' "
                                 "ORDER BY leaf_index LIMIT 1")).one()
            forged = row.payload.replace("7.77", "1.77")
            assert forged != row.payload
            forged_hash = leaf_hash(forged.encode()).hex()
            s.execute(text("UPDATE public_records SET payload = :p, leaf_hash = :h WHERE id = :id"),
                      {"p": forged, "h": forged_hash, "id": row.id})
            s.execute(text("UPDATE public_records SET prev_hash = :h WHERE leaf_index = :i"),
                      {"h": forged_hash, "i": row.leaf_index + 1})
        else:  # pragma: no cover
            raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "invariant"),
    [
        ("member_total", "account_totals_match_entries"),
        ("unbalanced_entry", "debits_equal_credits"),
        ("bank_row_deleted", "books_equal_custodian"),
        ("negative_balance", "no_negative_balance"),
        ("collected_rewritten", "payout_equals_collected_shares"),
        ("charged_twice", "member_pays_case_once"),
        ("public_record_rewritten", "public_record_chain"),
        ("public_record_rehashed", "public_record_chain"),
    ],
)
def test_ledger_check_names_the_broken_invariant(platform: Platform, clock: FixedClock, tmp_path: Path,
                                                 database_url: str, how: str, invariant: str) -> None:
    ids = _story(platform, clock, tmp_path)
    with platform.factory() as s:
        assert check_ledger(s) == []
    code, output = _cli_ledger_check(database_url, platform.settings.data_dir)
    assert code == 0, output
    assert "ledger check passed" in output

    _corrupt(platform, how, ids)
    if invariant != "public_record_chain":
        with platform.factory() as s:
            assert invariant in {v.invariant for v in check_ledger(s)}
    if how == "member_total":
        with platform.factory() as s:
            names = {v.invariant for v in check_ledger(s)}
            assert "custody_equals_member_balances_plus_case_pools" in names
    code, output = _cli_ledger_check(database_url, platform.settings.data_dir)
    assert code == 1, output
    assert f"BROKEN {invariant}" in " ".join(output.split())
