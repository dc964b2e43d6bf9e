from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huzhu.errors import InvalidInput
from huzhu.plans import (
    Benefit,
    ClaimFacts,
    Plan,
    PlanFileError,
    age_in_days,
    age_on,
    canonical_json,
    check_eligibility,
    compute_benefit,
    evaluate_claim,
    explain_benefit,
    in_force_date,
    load_plan,
    load_plans,
    plan_digest,
)

PLANS_DIR = Path(__file__).resolve().parents[2] / "plans"


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return load_plans(PLANS_DIR)


@pytest.fixture(scope="module")
def quark(plans) -> Plan:
    return plans["quark-no1"]


@pytest.fixture(scope="module")
def accident(plans) -> Plan:
    return plans["comprehensive-accident"]


@pytest.fixture(scope="module")
def driving(plans) -> Plan:
    return plans["driving-risk"]


def _benefit(plan: Plan, code: str) -> Benefit:
    benefit = plan.benefit(code)
    assert benefit is not None
    return benefit


# --- the three plan files ------------------------------------------------------------------------


def test_three_plans_load_with_common_money_rules(plans):
    assert set(plans) == {"quark-no1", "comprehensive-accident", "driving-risk"}
    for plan in plans.values():
        assert plan.deposit_fen == 900
        assert plan.min_balance_fen == 300
        assert plan.cap_per_case_fen == 300
        assert plan.notice_days == 7
        assert plan.fee_fen == 0
        assert plan.summary_zh and plan.summary_en and plan.name_zh and plan.name_en


def test_quark_no1_contents(quark):
    assert (quark.eligibility.min_age_years, quark.eligibility.max_age_years) == (18, 50)
    assert len(quark.eligibility.health_questions) == 4
    assert all(q.text_zh and q.text_en for q in quark.eligibility.health_questions)
    death = _benefit(quark, "accidental_death")
    assert (death.rule.type, death.rule.amount_fen, death.waiting_days) == ("fixed", 10_000_000, 1)
    disability = _benefit(quark, "accidental_disability")
    assert (disability.rule.type, disability.rule.full_amount_fen) == ("disability_grade", 10_000_000)
    illness = _benefit(quark, "critical_illness")
    assert illness.category == "illness" and illness.waiting_days == 180
    assert [(b.min_age, b.max_age, b.amount_fen) for b in illness.rule.bands] == [
        (18, 40, 30_000_000),
        (41, 50, 20_000_000),
    ]


def test_comprehensive_accident_contents(accident):
    e = accident.eligibility
    assert (e.min_age_years, e.min_age_days, e.max_age_years) == (0, 28, 70)
    assert e.health_questions == ()
    assert {b.code for b in accident.benefits} == {"accidental_death", "accidental_disability"}
    assert all(b.waiting_days == 1 for b in accident.benefits)


def test_driving_contents(driving):
    (benefit,) = driving.benefits
    assert benefit.category == "liability"
    assert benefit.rule.type == "driving_liability" and benefit.rule.cap_fen == 30_000_000
    assert (driving.eligibility.min_age_years, driving.eligibility.max_age_years) == (18, 70)


def test_plan_is_frozen(accident):
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen assignment
        accident.fee_fen = 1


def test_digest_is_stable_and_changes_with_rules(accident):
    assert plan_digest(accident) == plan_digest(load_plan(PLANS_DIR / "comprehensive-accident.toml"))
    assert len(plan_digest(accident)) == 64
    # the dump (in fen) validates back to the same plan
    again = Plan.model_validate(accident.model_dump(mode="json"))
    assert again == accident and plan_digest(again) == plan_digest(accident)
    changed = accident.model_copy(update={"version": 2})
    assert plan_digest(changed) != plan_digest(accident)
    assert '"deposit_fen":900' in canonical_json(accident)


# --- loader errors -------------------------------------------------------------------------------

GOOD = """
code = "test-plan"
version = 1
name_zh = "测试"
name_en = "Test"
summary_zh = "摘要"
summary_en = "Summary"
deposit = "9.00"
min_balance = "3.00"
cap_per_case = "3.00"
notice_days = 7
fee = "0.00"
waiting_members_share = true

[eligibility]
min_age_years = 18
max_age_years = 50

[[exclusions]]
code = "intentional"
text_zh = "故意自伤"
text_en = "Deliberate self-injury"

[[benefits]]
code = "accidental_death"
name_zh = "意外身故"
name_en = "Accidental death"
category = "accident"
waiting_days = 1
documents = ["death_certificate", "police"]
rule = { type = "fixed", amount = "100000.00" }
"""

BANDS = """
[[benefits]]
code = "illness"
name_zh = "重疾"
name_en = "Illness"
category = "illness"
waiting_days = 180
documents = ["medical"]
[[benefits.covered_illnesses]]
code = "cancer"
name_zh = "恶性肿瘤"
name_en = "Cancer"
definition_zh = "病理确诊"
definition_en = "Confirmed by pathology"
[benefits.rule]
type = "age_banded"
bands = [{ min_age = 18, max_age = 40, amount = "300000.00" }, { min_age = %d, max_age = 50, amount = "200000.00" }]
"""

QUESTION = """
[[eligibility.health_questions]]
code = "cancer_ever"
text_zh = "是否患癌"
text_en = "Ever had cancer?"
"""


def _write(tmp_path: Path, text: str, name: str = "test-plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> PlanFileError:
    path = _write(tmp_path, text)
    with pytest.raises(PlanFileError) as info:
        load_plan(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, InvalidInput)
    return info.value


def test_good_file_loads(tmp_path):
    plan = load_plan(_write(tmp_path, GOOD))
    assert plan.code == "test-plan" and plan.benefits[0].rule.amount_fen == 10_000_000


def test_error_bad_toml(tmp_path):
    err = _error(tmp_path, GOOD + "\nthis is = = not toml\n")
    assert "not valid TOML" in err.message


def test_error_unknown_field(tmp_path):
    err = _error(tmp_path, GOOD.replace("notice_days = 7", "notice_days = 7\nbonus = 1"))
    assert err.field == "bonus"
    assert "unknown field" in err.message


def test_error_unknown_nested_field(tmp_path):
    err = _error(tmp_path, GOOD.replace('rule = { type = "fixed",', 'rule = { type = "fixed", extra = 1,'))
    assert err.field == "benefits[0].rule.extra"
    assert "unknown field" in err.message


def test_error_missing_field(tmp_path):
    err = _error(tmp_path, GOOD.replace('name_en = "Test"\n', ""))
    assert err.field == "name_en" and "required" in err.message


def test_error_negative_amount(tmp_path):
    err = _error(tmp_path, GOOD.replace('amount = "100000.00"', 'amount = "-5.00"'))
    assert err.field == "benefits[0].rule.amount"
    assert err.message.endswith("benefits[0].rule.amount: amount must not be negative, got '-5.00'")


def test_error_amount_not_a_string(tmp_path):
    err = _error(tmp_path, GOOD.replace('deposit = "9.00"', "deposit = 9.0"))
    assert err.field == "deposit" and "quoted string" in err.message


def test_error_fee_not_zero(tmp_path):
    err = _error(tmp_path, GOOD.replace('fee = "0.00"', 'fee = "0.50"'))
    assert err.field == "fee"
    assert "zero profit" in err.message and "0.50" in err.message


def test_error_min_balance_above_deposit(tmp_path):
    err = _error(tmp_path, GOOD.replace('min_balance = "3.00"', 'min_balance = "10.00"'))
    assert err.field == "min_balance"


def test_error_overlapping_bands(tmp_path):
    err = _error(tmp_path, GOOD.replace("[[benefits]]", QUESTION + "\n[[benefits]]", 1) + BANDS % 40)
    assert err.field == "benefits[1].rule.bands"
    assert "overlap" in err.message and "18-40" in err.message and "40-50" in err.message


def test_error_band_gap_in_admitted_ages(tmp_path):
    err = _error(tmp_path, GOOD.replace("[[benefits]]", QUESTION + "\n[[benefits]]", 1) + BANDS % 42)
    assert "no age band covers age 41" in err.message


def test_non_overlapping_bands_load(tmp_path):
    plan = load_plan(
        _write(tmp_path, GOOD.replace("[[benefits]]", QUESTION + "\n[[benefits]]", 1) + BANDS % 41)
    )
    assert plan.benefit("illness").rule.band_for(41).amount_fen == 20_000_000


def test_error_illness_without_health_questions(tmp_path):
    err = _error(tmp_path, GOOD + BANDS % 41)
    assert err.field == "eligibility.health_questions"


def test_error_duplicate_benefit_codes(tmp_path):
    dup = GOOD[GOOD.index("[[benefits]]") :]
    err = _error(tmp_path, GOOD + dup)
    assert err.field == "benefits" and "duplicate" in err.message and "accidental_death" in err.message


def test_error_wrong_type_and_bad_rule_type(tmp_path):
    err = _error(tmp_path, GOOD.replace("notice_days = 7", 'notice_days = "7"'))
    assert err.field == "notice_days"
    err = _error(tmp_path, GOOD.replace('type = "fixed"', 'type = "lottery"'))
    assert err.field == "benefits[0].rule"
    assert "lottery" in err.message and "also:" not in err.message


def test_error_no_benefits(tmp_path):
    without = GOOD[: GOOD.index("[[benefits]]")]
    err = _error(tmp_path, without)
    assert err.field == "benefits" and "required" in err.message
    err = _error(
        tmp_path,
        without.replace("waiting_members_share = true", "waiting_members_share = true\nbenefits = []"),
    )
    assert err.field == "benefits" and "at least one benefit" in err.message


def test_error_bad_code_and_ages(tmp_path):
    assert _error(tmp_path, GOOD.replace('code = "test-plan"', 'code = "Test Plan"')).field == "code"
    err = _error(tmp_path, GOOD.replace("min_age_years = 18", "min_age_years = 60"))
    assert err.field == "eligibility.min_age_years"


def test_plans_say_what_they_do_not_cover_and_which_documents_a_claim_needs(tmp_path):
    """Exclusions, each benefit's document checklist and an illness benefit's covered illnesses are
    validated data: missing, unknown or duplicated entries name the file and the field."""
    plan = load_plan(_write(tmp_path, GOOD.replace("[[benefits]]", QUESTION + "\n[[benefits]]", 1) + BANDS % 41))
    assert [e.code for e in plan.exclusions] == ["intentional"]
    assert plan.benefit("accidental_death").documents == ("death_certificate", "police")
    assert [i.code for i in plan.benefit("illness").covered_illnesses] == ["cancer"]
    without_exclusions = GOOD.replace(GOOD[GOOD.index("[[exclusions]]"):GOOD.index("[[benefits]]")], "")
    assert _error(tmp_path, without_exclusions).field == "exclusions"
    err = _error(tmp_path, GOOD.replace('documents = ["death_certificate", "police"]', 'documents = ["selfie"]'))
    assert err.field == "benefits[0].documents[0]" and "death_certificate" in err.message
    err = _error(tmp_path, GOOD.replace('documents = ["death_certificate", "police"]', "documents = []"))
    assert err.field == "benefits[0].documents" and "at least one" in err.message
    err = _error(tmp_path, GOOD.replace('documents = ["death_certificate", "police"]\n', ""))
    assert err.field == "benefits[0].documents" and "required" in err.message
    no_illnesses = BANDS[: BANDS.index("[[benefits.covered_illnesses]]")] + BANDS[BANDS.index("[benefits.rule]"):]
    err = _error(tmp_path, GOOD.replace("[[benefits]]", QUESTION + "\n[[benefits]]", 1) + no_illnesses % 41)
    assert err.field == "benefits[1].covered_illnesses"
    illness_on_accident = GOOD.replace('rule = { type = "fixed"', '\n'.join([
        'covered_illnesses = [{ code = "x", name_zh = "x", name_en = "x", definition_zh = "x", definition_en = "x" }]',
        'rule = { type = "fixed"']))
    err = _error(tmp_path, illness_on_accident)
    assert err.field == "benefits[0].covered_illnesses" and "accident" in err.message


def test_a_claim_form_asks_only_the_facts_the_benefit_s_rule_needs():
    from huzhu.plans.rules import Fact, facts_to_give

    plans = load_plans(PLANS_DIR)
    accident, no1, driving = plans["comprehensive-accident"], plans["quark-no1"], plans["driving-risk"]
    assert facts_to_give(accident.benefit("accidental_death")) == ()
    assert facts_to_give(accident.benefit("accidental_disability")) == (Fact.DISABILITY_GRADES,)
    assert facts_to_give(no1.benefit("critical_illness")) == ()  # the age at diagnosis comes from the ID number
    assert facts_to_give(driving.benefit("third_party_liability")) == (Fact.LOSS, Fact.FAULT_SHARE,
                                                                        Fact.INSURANCE_PAID)


def test_every_document_kind_a_plan_may_name_is_one_a_claim_can_carry():
    from typing import get_args

    from huzhu.claims.models import EvidenceKind
    from huzhu.plans.schemas import DocumentKind

    assert set(get_args(DocumentKind)) == {kind.value for kind in EvidenceKind}


def test_load_plans_duplicate_code(tmp_path):
    _write(tmp_path, GOOD, "a.toml")
    _write(tmp_path, GOOD, "b.toml")
    with pytest.raises(PlanFileError, match="duplicate plan code 'test-plan'") as info:
        load_plans(tmp_path)
    assert info.value.path.endswith("b.toml")


def test_load_plans_missing_directory(tmp_path):
    with pytest.raises(PlanFileError, match="does not exist"):
        load_plans(tmp_path / "nope")


# --- ages ---------------------------------------------------------------------------------------


def test_age_on_birthday_boundaries():
    assert age_on(date(1990, 6, 15), date(2008, 6, 15)) == 18
    assert age_on(date(1990, 6, 15), date(2008, 6, 14)) == 17
    assert age_on(date(1990, 6, 15), date(1990, 6, 15)) == 0
    with pytest.raises(InvalidInput):
        age_on(date(1990, 6, 15), date(1990, 6, 14))


def test_age_on_leap_day_birthday_is_feb_28_in_common_years():
    born = date(2000, 2, 29)
    assert age_on(born, date(2001, 2, 27)) == 0
    assert age_on(born, date(2001, 2, 28)) == 1
    assert age_on(born, date(2004, 2, 28)) == 3
    assert age_on(born, date(2004, 2, 29)) == 4


def test_age_in_days():
    assert age_in_days(date(2016, 1, 1), date(2016, 1, 29)) == 28
    assert age_in_days(date(2016, 1, 1), date(2016, 1, 1)) == 0


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)), st.integers(1, 120))
def test_age_turns_on_each_anniversary(birth, years):
    anniversary = birth.replace(
        year=birth.year + years, day=28 if (birth.month, birth.day) == (2, 29) else birth.day
    )
    if (
        (birth.month, birth.day) == (2, 29)
        and anniversary.year % 4 == 0
        and (anniversary.year % 100 != 0 or anniversary.year % 400 == 0)
    ):
        anniversary = anniversary.replace(day=29)
    assert age_on(birth, anniversary) == years
    assert age_on(birth, anniversary - timedelta(days=1)) == years - 1


# --- eligibility --------------------------------------------------------------------------------

NO = {
    "hospitalised_2y": False,
    "cancer_ever": False,
    "major_organ_disease": False,
    "pending_diagnosis": False,
}


def test_quark_age_boundaries(quark):
    born = date(1990, 6, 15)
    assert check_eligibility(quark, birth_date=born, on=date(2008, 6, 15), health_answers=NO) == []
    (problem,) = check_eligibility(quark, birth_date=born, on=date(2008, 6, 14), health_answers=NO)
    assert problem.code == "too_young"
    assert problem.message == "must be at least 18 years old on the joining date; is 17"
    assert problem.params == {"min_age_years": 18, "age_years": 17}
    # 50 years and 364 days: completed years 50, eligible
    assert check_eligibility(quark, birth_date=born, on=date(2041, 6, 14), health_answers=NO) == []
    (problem,) = check_eligibility(quark, birth_date=born, on=date(2041, 6, 15), health_answers=NO)
    assert problem.code == "too_old" and "at most 50" in problem.message and "is 51" in problem.message


def test_comprehensive_accident_day_boundaries(accident):
    born = date(2016, 1, 1)
    assert check_eligibility(accident, birth_date=born, on=date(2016, 1, 29), health_answers=None) == []
    (problem,) = check_eligibility(accident, birth_date=born, on=date(2016, 1, 28), health_answers=None)
    assert problem.code == "too_young"
    assert "at least 28 days" in problem.message and "is 27 days" in problem.message
    assert (
        check_eligibility(accident, birth_date=date(1946, 1, 1), on=date(2016, 12, 31), health_answers=None)
        == []
    )
    (problem,) = check_eligibility(
        accident, birth_date=date(1946, 1, 1), on=date(2017, 1, 1), health_answers=None
    )
    assert problem.code == "too_old"


def test_health_declaration(quark):
    born, on = date(1990, 1, 1), date(2016, 1, 1)
    (missing,) = check_eligibility(quark, birth_date=born, on=on, health_answers=None)
    assert missing.code == "health_declaration_missing" and len(missing.params["questions"]) == 4
    partial = {k: v for k, v in NO.items() if k != "cancer_ever"}
    (missing,) = check_eligibility(quark, birth_date=born, on=on, health_answers=partial)
    assert missing.params == {"questions": ["cancer_ever"]}
    (failed,) = check_eligibility(quark, birth_date=born, on=on, health_answers={**NO, "cancer_ever": True})
    assert failed.code == "health_declaration_failed" and failed.params == {"questions": ["cancer_ever"]}
    (unknown,) = check_eligibility(quark, birth_date=born, on=on, health_answers={**NO, "smoker": False})
    assert unknown.code == "health_declaration_unknown_question"


def test_several_problems_reported_together(quark):
    codes = [
        p.code
        for p in check_eligibility(
            quark, birth_date=date(2010, 1, 1), on=date(2016, 1, 1), health_answers=None
        )
    ]
    assert codes == ["too_young", "health_declaration_missing"]


def test_born_after_joining_date(accident):
    (problem,) = check_eligibility(
        accident, birth_date=date(2020, 1, 1), on=date(2016, 1, 1), health_answers=None
    )
    assert problem.code == "born_after_joining_date"


# --- benefits -----------------------------------------------------------------------------------


def test_in_force_date(accident, quark):
    assert in_force_date(_benefit(accident, "accidental_death"), date(2016, 2, 6)) == date(2016, 2, 7)
    assert in_force_date(_benefit(quark, "critical_illness"), date(2016, 1, 1)) == date(2016, 6, 29)


@pytest.mark.parametrize("grade,expected", [(1, 10_000_000), (2, 9_000_000), (5, 6_000_000), (10, 1_000_000)])
def test_disability_grades(accident, grade, expected):
    assert (
        compute_benefit(_benefit(accident, "accidental_disability"), ClaimFacts(disability_grades=(grade,)))
        == expected
    )


def test_disability_most_severe_grade_counts(accident):
    benefit = _benefit(accident, "accidental_disability")
    amount, detail = explain_benefit(benefit, ClaimFacts(disability_grades=(7, 2, 9)))
    assert amount == 9_000_000
    assert "grade 2 → 90% × 100000.00 = 90000.00" in detail


@pytest.mark.parametrize("grades", [(), (0,), (11,), (2, 11)])
def test_disability_bad_grades(accident, grades):
    with pytest.raises(InvalidInput):
        compute_benefit(_benefit(accident, "accidental_disability"), ClaimFacts(disability_grades=grades))


def test_fixed(accident):
    assert compute_benefit(_benefit(accident, "accidental_death"), ClaimFacts()) == 10_000_000


def test_age_banded(quark):
    illness = _benefit(quark, "critical_illness")
    assert compute_benefit(illness, ClaimFacts(age_at_incident=18)) == 30_000_000
    assert compute_benefit(illness, ClaimFacts(age_at_incident=40)) == 30_000_000
    assert compute_benefit(illness, ClaimFacts(age_at_incident=41)) == 20_000_000
    assert compute_benefit(illness, ClaimFacts(age_at_incident=50)) == 20_000_000
    amount, detail = explain_benefit(illness, ClaimFacts(age_at_incident=51))
    assert amount == 0 and "no age band" in detail
    with pytest.raises(InvalidInput, match="age_at_incident"):
        compute_benefit(illness, ClaimFacts())


def test_driving_formula(driving):
    (benefit,) = driving.benefits
    # 200000.00 × 60% − 50000.00 = 70000.00
    facts = ClaimFacts(loss_fen=20_000_000, fault_share_bp=6000, insurance_paid_fen=5_000_000)
    assert compute_benefit(benefit, facts) == 7_000_000
    # capped at 300000.00
    facts = ClaimFacts(loss_fen=100_000_000, fault_share_bp=10000, insurance_paid_fen=10_000_000)
    amount, detail = explain_benefit(benefit, facts)
    assert amount == 30_000_000 and "cap 300000.00" in detail
    # insurance paid more than the liable share: clamped to 0
    facts = ClaimFacts(loss_fen=10_000_000, fault_share_bp=5000, insurance_paid_fen=8_000_000)
    assert compute_benefit(benefit, facts) == 0
    # fractions of a fen are rounded down: 0.33 × 33.33% = 0.10999 → 0.10
    assert compute_benefit(benefit, ClaimFacts(loss_fen=33, fault_share_bp=3333, insurance_paid_fen=0)) == 10


@pytest.mark.parametrize(
    "facts",
    [
        ClaimFacts(fault_share_bp=5000, insurance_paid_fen=0),
        ClaimFacts(loss_fen=100, insurance_paid_fen=0),
        ClaimFacts(loss_fen=100, fault_share_bp=5000),
        ClaimFacts(loss_fen=100, fault_share_bp=10001, insurance_paid_fen=0),
        ClaimFacts(loss_fen=-1, fault_share_bp=5000, insurance_paid_fen=0),
        ClaimFacts(loss_fen=100, fault_share_bp=5000, insurance_paid_fen=-1),
    ],
)
def test_driving_bad_facts(driving, facts):
    with pytest.raises(InvalidInput):
        compute_benefit(driving.benefits[0], facts)


@given(
    loss=st.integers(0, 10**12),
    bp=st.integers(0, 10000),
    paid=st.integers(0, 10**12),
)
def test_driving_bounds(driving, loss, bp, paid):
    amount = compute_benefit(
        driving.benefits[0], ClaimFacts(loss_fen=loss, fault_share_bp=bp, insurance_paid_fen=paid)
    )
    assert 0 <= amount <= 30_000_000
    assert amount <= loss * bp // 10000


# --- claim evaluation: the seed -----------------------------------------------------------------


def _evaluate(plan, code, incident, facts, active=True, anchor=date(2016, 2, 6)):
    return evaluate_claim(
        plan,
        benefit_code=code,
        incident_date=incident,
        coverage_anchor=anchor,
        enrollment_active_on_incident=active,
        facts=facts,
    )


def _check(evaluation, code):
    return next(c for c in evaluation.checks if c.code == code)


def test_seed_disability_90000(accident):
    ev = _evaluate(accident, "accidental_disability", date(2016, 2, 9), ClaimFacts(disability_grades=(2,)))
    assert ev.passed and ev.amount_fen == 9_000_000
    assert [c.code for c in ev.checks] == [
        "benefit_covered",
        "enrollment_active",
        "in_force",
        "facts_complete",
        "amount",
    ]
    assert "2016-02-07" in _check(ev, "in_force").detail and "2016-02-09" in _check(ev, "in_force").detail
    assert _check(ev, "amount").detail == "grade 2 → 90% × 100000.00 = 90000.00"


def test_seed_accidental_death_100000(accident):
    ev = _evaluate(accident, "accidental_death", date(2016, 2, 9), ClaimFacts())
    assert ev.passed and ev.amount_fen == 10_000_000


def test_incident_on_joining_day_not_covered(accident):
    ev = _evaluate(accident, "accidental_disability", date(2016, 2, 6), ClaimFacts(disability_grades=(2,)))
    assert not ev.passed
    assert [c.code for c in ev.failed()] == ["in_force"]
    assert ev.amount_fen == 9_000_000  # still computed, for the reviewer to see
    # the first covered day
    assert _evaluate(
        accident, "accidental_disability", date(2016, 2, 7), ClaimFacts(disability_grades=(2,))
    ).passed


def test_illness_waiting_period(quark):
    anchor = date(2016, 1, 1)
    facts = ClaimFacts(age_at_incident=30)
    assert not _evaluate(quark, "critical_illness", date(2016, 6, 28), facts, anchor=anchor).passed
    assert (
        _evaluate(quark, "critical_illness", date(2016, 6, 29), facts, anchor=anchor).amount_fen == 30_000_000
    )


def test_every_check_runs_even_after_failures(accident):
    ev = _evaluate(accident, "accidental_disability", date(2016, 2, 6), ClaimFacts(), active=False)
    failed = {c.code for c in ev.failed()}
    assert failed == {"enrollment_active", "in_force", "facts_complete", "amount"}
    assert ev.amount_fen is None
    assert "disability_grades" in _check(ev, "facts_complete").detail


def test_unknown_benefit(accident):
    ev = _evaluate(accident, "critical_illness", date(2016, 3, 1), ClaimFacts())
    assert not ev.passed and ev.amount_fen is None
    assert not _check(ev, "benefit_covered").passed
    assert "accidental_death" in _check(ev, "benefit_covered").detail
    assert len(ev.checks) == 5


def test_zero_amount_fails_amount_check(driving):
    facts = ClaimFacts(loss_fen=10_000_000, fault_share_bp=5000, insurance_paid_fen=8_000_000)
    ev = _evaluate(driving, "third_party_liability", date(2016, 3, 20), facts)
    assert ev.amount_fen == 0 and not ev.passed
    assert [c.code for c in ev.failed()] == ["amount"]
