"""The claim state machine, separation of duties, rule-checked review, public notice and objections."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from huzhu.accounts import service as accounts
from huzhu.casework import service as casework
from huzhu.claims import service as claims
from huzhu.claims.models import Claim, ClaimEvent, ReviewDecision
from huzhu.clock import FixedClock
from huzhu.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotEligible, NotFound
from huzhu.jobs import run_jobs
from huzhu.ledger.invariants import check_ledger
from huzhu.members import service as members
from huzhu.notices import service as notices
from huzhu.notices.models import Case, Objection
from huzhu.platform import Platform

from .helpers import (
    ACCIDENT,
    DRIVING,
    PASSWORD,
    Joined,
    Staff,
    account,
    approve,
    approved_case,
    at,
    count_rows,
    driving_facts,
    file_and_investigate,
    join_member,
    make_staff,
    unique_id_number,
)

CHECK_CODES = ["benefit_covered", "enrollment_active", "in_force", "facts_complete", "amount"]


def _run(platform: Platform, clock: FixedClock):  # noqa: ANN202
    return run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=clock.now())


def _file(platform: Platform, clock: FixedClock, who: Joined, *, actor_id: int | None = None, plan: str = ACCIDENT,
          benefit: str = "accidental_death", incident: date = date(2015, 3, 3)) -> int:
    with platform.session() as s:
        claim = claims.file_claim(
            s, plans=platform.plans, actor=account(s, actor_id or who.account_id), member_id=who.member_id,
            plan_code=plan, benefit_code=benefit, incident_date=incident, now=clock.now(),
            beneficiary_name="家属", beneficiary_account="6222020000000000011")
        return claim.id


def _world(platform: Platform, clock: FixedClock) -> tuple[Staff, Joined, list[Joined]]:
    staff = make_staff(platform, clock)
    claimant = join_member(platform, clock, name="申请人", plans=(ACCIDENT,))
    others = [join_member(platform, clock, name=f"会员{i}", plans=(ACCIDENT,)) for i in range(3)]
    clock.set(at("2015-03-05"))
    return staff, claimant, others


def _approved(platform: Platform, clock: FixedClock, staff: Staff, who: Joined) -> int:
    claim_id = file_and_investigate(platform, clock, staff, who, plan=ACCIDENT, benefit="accidental_death",
                                    incident=date(2015, 3, 3))
    return approve(platform, clock, staff, claim_id)


# ------------------------------------------------------------------------------- roles


def test_separation_of_duties(platform: Platform, clock: FixedClock) -> None:
    staff, claimant, others = _world(platform, clock)
    with platform.session() as s:
        second_investigator = accounts.register_account(s, login="inv2@huzhu.test", password=PASSWORD,
                                                       display_name="inv2", role="investigator", now=clock.now()).id

    # A member cannot file for a member of another account (it is not theirs to see).
    with platform.session() as s, pytest.raises(NotFound):
        claims.file_claim(s, plans=platform.plans, actor=account(s, others[0].account_id),
                          member_id=claimant.member_id, plan_code=ACCIDENT, benefit_code="accidental_death",
                          incident_date=date(2015, 3, 3), now=clock.now(), beneficiary_name="x",
                          beneficiary_account="6222020000000000011")
    # Staff other than admin cannot file.
    with platform.session() as s, pytest.raises(Forbidden):
        claims.file_claim(s, plans=platform.plans, actor=account(s, staff.reviewer_id), member_id=claimant.member_id,
                          plan_code=ACCIDENT, benefit_code="accidental_death", incident_date=date(2015, 3, 3),
                          now=clock.now(), beneficiary_name="x", beneficiary_account="6222020000000000011")
    claim_id = _file(platform, clock, claimant)

    # Only an investigator investigates; only the assigned one reports.
    for actor_id in (staff.reviewer_id, claimant.account_id, staff.admin_id):
        with platform.session() as s, pytest.raises(Forbidden):
            claims.start_investigation(s, actor=account(s, actor_id), claim_id=claim_id, now=clock.now())
    with platform.session() as s:
        claims.start_investigation(s, actor=account(s, staff.investigator_id), claim_id=claim_id, now=clock.now())
    with platform.session() as s, pytest.raises(InvalidTransition):
        claims.start_investigation(s, actor=account(s, second_investigator), claim_id=claim_id, now=clock.now())
    with platform.session() as s, pytest.raises(Forbidden, match="assigned"):
        claims.submit_report(s, actor=account(s, second_investigator), claim_id=claim_id, company="c",
                             summary="s", confirmed_incident_date=date(2015, 3, 3), now=clock.now())
    # Deciding before the report is refused by the state machine.
    with platform.session() as s, pytest.raises(InvalidTransition):
        casework.decide(s, plans=platform.plans, actor=account(s, staff.reviewer_id), claim_id=claim_id,
                      approve=True, reason="ok", now=clock.now())
    with platform.session() as s:
        claims.submit_report(s, actor=account(s, staff.investigator_id), claim_id=claim_id, company="调查公司",
                             summary="属实。", confirmed_incident_date=date(2015, 3, 3), now=clock.now())

    # Non-reviewers cannot decide; the investigator cannot review their own claim even if promoted.
    for actor_id in (staff.investigator_id, claimant.account_id, staff.admin_id):
        with platform.session() as s, pytest.raises(Forbidden):
            casework.decide(s, plans=platform.plans, actor=account(s, actor_id), claim_id=claim_id, approve=True,
                          reason="ok", now=clock.now())
    with platform.session() as s:
        s.execute(text("UPDATE accounts SET role = 'reviewer' WHERE id = :id"), {"id": staff.investigator_id})
    with platform.session() as s, pytest.raises(Forbidden, match="investigator"):
        casework.decide(s, plans=platform.plans, actor=account(s, staff.investigator_id), claim_id=claim_id,
                      approve=True, reason="ok", now=clock.now())
    case_id = approve(platform, clock, staff, claim_id)

    # The claimant's fellow member objects; the approving reviewer (and the investigator) cannot resolve it.
    with platform.session() as s:
        objection = notices.file_objection(s, actor=account(s, others[0].account_id), case_id=case_id,
                                           member_id=others[0].member_id, reason="请核实事故时间。", now=clock.now())
        objection_id = objection.id
    for actor_id in (staff.reviewer_id, staff.investigator_id):
        with platform.session() as s, pytest.raises(Forbidden):
            casework.resolve_objection(s, actor=account(s, actor_id), objection_id=objection_id, upheld=False,
                                      note="已核实", now=clock.now())
    with platform.session() as s, pytest.raises(Forbidden):
        casework.resolve_objection(s, actor=account(s, others[1].account_id), objection_id=objection_id,
                                  upheld=False, note="已核实", now=clock.now())
    with platform.session() as s:
        casework.resolve_objection(s, actor=account(s, staff.reviewer2_id), objection_id=objection_id, upheld=False,
                                  note="已核实", now=clock.now())
    with platform.session() as s, pytest.raises(InvalidTransition):
        casework.resolve_objection(s, actor=account(s, staff.reviewer2_id), objection_id=objection_id, upheld=True,
                                  note="再议", now=clock.now())
    with platform.factory() as s:
        events = [(e.from_status, e.to_status) for e in s.scalars(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.id))]
        assert events == [(None, "submitted"), ("submitted", "investigating"), ("investigating", "reviewing"),
                          ("reviewing", "approved")]


# ------------------------------------------------------------------------------- filing


def test_filing_refusals_write_nothing(platform: Platform, clock: FixedClock) -> None:
    staff, claimant, others = _world(platform, clock)
    clock.set(at("2015-03-01", 12))  # the joining day: accident cover starts tomorrow

    def attempt(error: type[Exception], match: str, **overrides: object) -> None:
        args = dict(member_id=claimant.member_id, plan_code=ACCIDENT, benefit_code="accidental_death",
                    incident_date=date(2015, 3, 1), beneficiary_name="家属", beneficiary_account="6222020000000000011")
        args.update(overrides)
        with platform.factory() as s:
            before = count_rows(s, "claims", "claim_events")
        with platform.session() as s, pytest.raises(error, match=match):
            claims.file_claim(s, plans=platform.plans, actor=account(s, claimant.account_id), now=clock.now(),
                              **args)  # type: ignore[arg-type]
        with platform.factory() as s:
            assert count_rows(s, "claims", "claim_events") == before

    attempt(NotEligible, "before Accidental death came into force on 2015-03-02")
    attempt(InvalidInput, "unknown plan 'no-such-plan'; plans are: comprehensive-accident, driving-risk, quark-no1",
            plan_code="no-such-plan")
    attempt(InvalidInput, "has no benefit 'critical_illness'; its benefits are: accidental_death, "
            "accidental_disability", benefit_code="critical_illness")
    attempt(InvalidInput, "future", incident_date=date(2015, 3, 2))
    attempt(NotEligible, "never joined plan driving-risk", plan_code="driving-risk",
            benefit_code="third_party_liability", incident_date=date(2015, 3, 1))
    attempt(InvalidInput, "beneficiary bank account", beneficiary_account="abc")
    attempt(InvalidInput, "unknown claim facts", facts={"salary": "1"})

    clock.set(at("2015-03-05"))
    _file(platform, clock, claimant, incident=date(2015, 3, 2))  # the in-force day itself is covered
    attempt(Conflict, "already open", incident_date=date(2015, 3, 2))


# ------------------------------------------------------------------------------- review


def test_review_records_every_rule_check_and_refuses_to_approve_a_failing_claim(platform: Platform,
                                                                                 clock: FixedClock) -> None:
    staff, claimant, _ = _world(platform, clock)
    clock.set(at("2015-03-03"))
    # Balance below the minimum on 03-03: suspended that day, so not covered on 03-04.
    with platform.session() as s:
        members.withdraw(s, platform.custodian, plans=platform.plans,
                         member=members.member_or_raise(s, claimant.member_id), amount_fen=700,
                         bank_account="6222020000000000011", now=clock.now(), idempotency_key="w")
    clock.set(at("2015-03-05"))
    claim_id = file_and_investigate(platform, clock, staff, claimant, plan=ACCIDENT, benefit="accidental_death",
                                    incident=date(2015, 3, 4))
    with platform.session() as s, pytest.raises(NotEligible, match="enrollment_active"):
        casework.decide(s, plans=platform.plans, actor=account(s, staff.reviewer_id), claim_id=claim_id, approve=True,
                      reason="", now=clock.now())
    with platform.session() as s, pytest.raises(InvalidInput, match="reason"):
        casework.decide(s, plans=platform.plans, actor=account(s, staff.reviewer_id), claim_id=claim_id, approve=False,
                      reason=" ", now=clock.now())
    with platform.factory() as s:
        assert s.scalar(select(ReviewDecision.id)) is None
        assert s.get(Claim, claim_id).status == "reviewing"  # type: ignore[union-attr]
    with platform.session() as s:
        claim, case = casework.decide(s, plans=platform.plans, actor=account(s, staff.reviewer_id), claim_id=claim_id,
                                    approve=False, reason="出险时保障已暂停", now=clock.now())
        assert case is None and claim.status == "rejected"
    with platform.factory() as s:
        decision = s.scalar(select(ReviewDecision).where(ReviewDecision.claim_id == claim_id))
        assert decision is not None and decision.decision == "reject"
        checks = {c["code"]: c["passed"] for c in decision.checks}
        assert list(checks) == CHECK_CODES
        assert checks == {"benefit_covered": True, "enrollment_active": False, "in_force": True,
                          "facts_complete": True, "amount": True}
        assert decision.computed_amount_fen == 100_000_00
        assert s.scalar(select(Case.id)) is None

    # A disability claim without a grade cannot be approved either (facts incomplete).
    other = join_member(platform, clock, name="伤者", plans=(ACCIDENT,))
    clock.set(at("2015-03-08"))
    claim2 = file_and_investigate(platform, clock, staff, other, plan=ACCIDENT, benefit="accidental_disability",
                                  incident=date(2015, 3, 7))
    with platform.session() as s, pytest.raises(NotEligible, match="facts_complete"):
        casework.decide(s, plans=platform.plans, actor=account(s, staff.reviewer_id), claim_id=claim2, approve=True,
                      reason="", now=clock.now())


def test_approval_records_passing_checks_and_the_amount_comes_from_the_rules(platform: Platform,
                                                                               clock: FixedClock) -> None:
    staff, claimant, _ = _world(platform, clock)
    claim_id = file_and_investigate(platform, clock, staff, claimant, plan=ACCIDENT,
                                    benefit="accidental_disability", incident=date(2015, 3, 3),
                                    report_facts={"disability_grades": [4, 2, 7]})
    case_id = approve(platform, clock, staff, claim_id)
    with platform.factory() as s:
        decision = s.scalar(select(ReviewDecision).where(ReviewDecision.claim_id == claim_id))
        assert decision is not None and decision.decision == "approve"
        assert [c["code"] for c in decision.checks] == CHECK_CODES and all(c["passed"] for c in decision.checks)
        assert decision.computed_amount_fen == 90_000_00 and len(decision.plan_digest) == 64
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.status, case.amount_fen, case.fee_fen) == ("in_notice", 90_000_00, 0)
        assert case.notice_ends_at - case.notice_starts_at == timedelta(days=7)
        assert case.notice_starts_at == clock.now()


# ------------------------------------------------------------------------------- objections


def test_objections_hold_the_case_until_dismissed(platform: Platform, clock: FixedClock) -> None:
    staff, claimant, others = _world(platform, clock)
    case_id = _approved(platform, clock, staff, claimant)
    with platform.session() as s:
        outsider = accounts.register_account(s, login="13700000000", password=PASSWORD, display_name="路人",
                                            now=clock.now())
        stranger = members.add_member(s, account_id=outsider.id, name="路人", now=clock.now(),
                                      id_number=unique_id_number(date(1980, 1, 1)))
        outsider_id, stranger_id = outsider.id, stranger.id

    def object_(who_account: int, member_id: int, reason: str = "请核实事故经过。"):  # noqa: ANN202
        with platform.session() as s:
            return notices.file_objection(s, actor=account(s, who_account), case_id=case_id, member_id=member_id,
                                          reason=reason, now=clock.now()).id

    with pytest.raises(Forbidden, match="only members in a plan"):
        object_(outsider_id, stranger_id)
    with pytest.raises(NotFound):
        object_(others[0].account_id, others[1].member_id)  # not their member
    with pytest.raises(Forbidden):
        object_(staff.reviewer2_id, others[0].member_id)
    with pytest.raises(InvalidInput):
        object_(others[0].account_id, others[0].member_id, reason="不")
    objection_id = object_(others[0].account_id, others[0].member_id)
    with pytest.raises(Conflict, match="already objected"):
        object_(others[0].account_id, others[0].member_id, reason="再次异议，理由不同。")
    with platform.factory() as s:
        assert s.scalar(text("SELECT COUNT(*) FROM objections")) == 1

    # The notice ends with the objection still open: the run leaves the case alone.
    clock.set(at("2015-03-13"))
    report = _run(platform, clock)
    assert report.run_no is None
    with platform.factory() as s:
        assert s.get(Case, case_id).status == "in_notice"  # type: ignore[union-attr]
        assert s.scalar(text("SELECT COUNT(*) FROM ledger_transfers WHERE kind = 'share'")) == 0
    # Objections close with the notice.
    with pytest.raises(InvalidTransition, match="objections are closed"):
        object_(others[1].account_id, others[1].member_id)

    with platform.session() as s:
        casework.resolve_objection(s, actor=account(s, staff.reviewer2_id), objection_id=objection_id, upheld=False,
                                  note="经核实，事故属实。", now=clock.now())
    clock.set(at("2015-03-13", 12))
    report = _run(platform, clock)
    assert report.run_no is not None and len(report.cases_shared) == 1
    with platform.factory() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status == "paid"
        # Three fellow members at most 3.00 each; the claimant does not pay.
        assert case.collected_fen == 900 and case.shortfall_fen == 100_000_00 - 900
        objection = s.get(Objection, objection_id)
        assert objection is not None and objection.status == "dismissed"
        assert objection.resolved_by_account_id == staff.reviewer2_id
        assert check_ledger(s) == []


def test_an_upheld_objection_withdraws_the_case_and_reapproval_opens_a_new_notice(platform: Platform,
                                                                                   clock: FixedClock) -> None:
    staff, claimant, others = _world(platform, clock)
    case_id = _approved(platform, clock, staff, claimant)
    with platform.session() as s:
        first = notices.file_objection(s, actor=account(s, others[0].account_id), case_id=case_id,
                                       member_id=others[0].member_id, reason="事故时间存疑。", now=clock.now()).id
        second = notices.file_objection(s, actor=account(s, others[1].account_id), case_id=case_id,
                                        member_id=others[1].member_id, reason="金额存疑，请复核。", now=clock.now()).id
    clock.set(at("2015-03-06"))
    with platform.session() as s:
        casework.resolve_objection(s, actor=account(s, staff.reviewer2_id), objection_id=first, upheld=True,
                                  note="需要补充调查。", now=clock.now())
    with platform.factory() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status == "withdrawn"
        claim = s.get(Claim, case.claim_id)
        assert claim is not None and claim.status == "reviewing" and claim.amount_fen is None
        assert {o.id: o.status for o in s.scalars(select(Objection))} == {first: "upheld", second: "upheld"}
        claim_id = claim.id

    # A withdrawn case is never shared.
    clock.set(at("2015-03-13"))
    assert _run(platform, clock).run_no is None

    # Re-approval opens a new case with a fresh seven-day notice.
    new_case_id = approve(platform, clock, staff, claim_id)
    assert new_case_id != case_id
    with platform.factory() as s:
        new_case = s.get(Case, new_case_id)
        assert new_case is not None and new_case.status == "in_notice"
        assert new_case.notice_starts_at == clock.now()
        assert new_case.notice_ends_at == clock.now() + timedelta(days=7)
        assert s.scalar(select(Claim.status).where(Claim.id == claim_id)) == "approved"
        assert s.scalar(text("SELECT COUNT(*) FROM review_decisions WHERE claim_id = :c"), {"c": claim_id}) == 2
    clock.set(at("2015-03-19"))
    assert _run(platform, clock).run_no is None
    clock.set(at("2015-03-20", 11))
    report = _run(platform, clock)
    assert report.run_no is not None
    with platform.factory() as s:
        assert s.get(Case, new_case_id).status == "paid"  # type: ignore[union-attr]
        assert s.get(Case, case_id).status == "withdrawn"  # type: ignore[union-attr]
        assert s.scalar(text("SELECT COUNT(*) FROM run_cases")) == 1
        assert check_ledger(s) == []


def test_published_free_text_has_no_phone_id_or_account_numbers(platform: Platform, clock: FixedClock) -> None:
    """People write their numbers into objections and notes; the permanent public record must not
    keep them (the objector and staff still read the text as written)."""
    from huzhu.api import views
    from huzhu.transparency.models import PublicRecord

    staff = make_staff(platform, clock)
    claimant = join_member(platform, clock, plans=(DRIVING,))
    objector = join_member(platform, clock, plans=(DRIVING,))
    clock.set(at("2015-03-05"))
    case_id = approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                            incident=date(2015, 3, 4), facts=driving_facts("5.55"))
    secrets = ["13800138000", "450321199006151228", "6222020000000000011", "peng.jing@qq.com"]
    reason = f"我认识他，电话 138 0013 8000，身份证 {secrets[1]}，请核实。"
    note = f"已电话核实（{secrets[0]}），赔款账户 {secrets[2]}，联系 {secrets[3]}。"
    with platform.session() as s:
        objection = notices.file_objection(s, actor=account(s, objector.account_id), case_id=case_id,
                                           member_id=objector.member_id, reason=reason, now=clock.now())
        objection_id = objection.id
    with platform.session() as s:
        casework.resolve_objection(s, actor=account(s, staff.reviewer2_id), objection_id=objection_id, upheld=False,
                                  note=note, now=clock.now())
    with platform.factory() as s:
        published = " ".join(s.scalars(select(PublicRecord.payload)))
        stored = s.get(Objection, objection_id)
        assert stored is not None
        case = s.get(Case, case_id)
        assert case is not None
        public = views.objection_public(stored, case.case_no).model_dump_json()
        own = views.objection_read(stored, case.case_no)
    for secret in [*secrets, "138 0013 8000"]:
        assert secret not in published
        assert secret not in public
    assert "请核实" in published and "已电话核实" in public  # the words stay
    assert own.reason == reason and own.resolution_note == note
