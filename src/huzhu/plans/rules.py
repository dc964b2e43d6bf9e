"""Eligibility and benefit rules: pure functions over a ``Plan`` and dates passed in.

Ages are completed years (周岁). A person born on 29 February has their birthday on 28 February in
common years; this follows the corresponding-day rule for periods counted in years (Civil Code of the
PRC, art. 202: where the final month has no corresponding day, the period ends on its last day).
So someone born 2000-02-29 is 1 year old from 2001-02-28, and 18 from 2018-02-28.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from huzhu.errors import InvalidInput
from huzhu.messages import Message, MessageCode, Name, code_named
from huzhu.money import format_yuan
from huzhu.plans.errors import PlanError
from huzhu.plans.schemas import (
    AgeBandedRule,
    Benefit,
    DisabilityGradeRule,
    DrivingLiabilityRule,
    FixedRule,
    Plan,
)

# --- ages -------------------------------------------------------------------------------------


def _anniversary(birth: date, year: int) -> date:
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birth.replace(year=year)


def age_on(birth: date, on: date) -> int:
    """Age in completed years (周岁) on ``on``; exactly N on the N-th birthday."""
    if on < birth:
        raise InvalidInput(PlanError.BEFORE_BIRTH, on=on.isoformat(), birth=birth.isoformat())
    years = on.year - birth.year
    if on < _anniversary(birth, on.year):
        years -= 1
    return years


def age_in_days(birth: date, on: date) -> int:
    """Whole days since birth (0 on the day of birth)."""
    if on < birth:
        raise InvalidInput(PlanError.BEFORE_BIRTH, on=on.isoformat(), birth=birth.isoformat())
    return (on - birth).days


# --- eligibility ------------------------------------------------------------------------------


class Ineligible(MessageCode):
    """Why someone cannot join a plan (each one is a ``Problem``)."""

    BORN_AFTER_JOINING = ("plans.eligibility.born_after_joining",
                          "the birth date %(birth_date)s is after the joining date %(on)s")
    TOO_YOUNG_YEARS = ("plans.eligibility.too_young_years",
                       "must be at least %(min_age_years)s years old on the joining date; is %(age_years)s")
    TOO_YOUNG_DAYS = ("plans.eligibility.too_young_days",
                      "must be at least %(min_age_days)s days old on the joining date; is %(age_days)s days old")
    TOO_OLD = ("plans.eligibility.too_old",
               "must be at most %(max_age_years)s years old (completed years) on the joining date; is %(age_years)s")
    HEALTH_UNKNOWN_QUESTION = ("plans.eligibility.health_unknown_question",
                               "the health declaration answers unknown question(s): %(questions)s")
    HEALTH_MISSING = ("plans.eligibility.health_missing",
                      "this plan needs a health declaration; unanswered: %(questions)s")
    HEALTH_FAILED = ("plans.eligibility.health_failed",
                     "every health question must be answered 'no'; answered 'yes' (or not 'no'): %(questions)s")


@dataclass(frozen=True)
class Problem:
    """One reason a person cannot join. ``code`` is stable (for APIs); ``text`` says it, with ``params``."""

    code: str
    text: Ineligible
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """In English."""
        return self.text.english(self.params)

    @property
    def reason(self) -> Message:
        """As a value in another message (each reason someone cannot join)."""
        return Message(self.text, self.params)


def check_eligibility(
    plan: Plan, *, birth_date: date, on: date, health_answers: Mapping[str, bool] | None
) -> list[Problem]:
    """Every problem with joining ``plan`` on ``on``; an empty list means eligible.

    ``health_answers`` maps a health-question code to the answer: True = "yes" (the condition
    applies), False = "no". A plan with health questions needs every question answered "no".

    Codes: ``born_after_joining_date``, ``too_young``, ``too_old``, ``health_declaration_missing``,
    ``health_declaration_unknown_question``, ``health_declaration_failed``.
    """
    rules = plan.eligibility
    problems: list[Problem] = []
    if on < birth_date:
        problems.append(Problem("born_after_joining_date", Ineligible.BORN_AFTER_JOINING,
                                {"birth_date": birth_date.isoformat(), "on": on.isoformat()}))
    else:
        years = age_on(birth_date, on)
        days = age_in_days(birth_date, on)
        if years < rules.min_age_years:
            problems.append(Problem("too_young", Ineligible.TOO_YOUNG_YEARS,
                                    {"min_age_years": rules.min_age_years, "age_years": years}))
        elif days < rules.min_age_days:
            problems.append(Problem("too_young", Ineligible.TOO_YOUNG_DAYS,
                                    {"min_age_days": rules.min_age_days, "age_days": days}))
        if years > rules.max_age_years:
            problems.append(Problem("too_old", Ineligible.TOO_OLD,
                                    {"max_age_years": rules.max_age_years, "age_years": years}))

    known = [q.code for q in rules.health_questions]
    answers = dict(health_answers or {})
    unknown = sorted(code for code in answers if code not in known)
    if unknown:
        problems.append(Problem("health_declaration_unknown_question", Ineligible.HEALTH_UNKNOWN_QUESTION,
                                {"questions": unknown}))
    if known:
        missing = [code for code in known if code not in answers]
        if health_answers is None or missing:
            problems.append(Problem("health_declaration_missing", Ineligible.HEALTH_MISSING,
                                    {"questions": missing}))
        bad = [code for code in known if answers.get(code) is not False and code in answers]
        if bad:
            problems.append(Problem("health_declaration_failed", Ineligible.HEALTH_FAILED, {"questions": bad}))
    return problems


# --- coverage -----------------------------------------------------------------------------------


def in_force_date(benefit: Benefit, coverage_anchor: date) -> date:
    """First day the benefit covers an incident: anchor + waiting days (1 = the day after joining)."""
    return coverage_anchor + timedelta(days=benefit.waiting_days)


# --- benefit amounts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimFacts:
    """Verified facts of a claim (only the ones the benefit's rule needs must be given)."""

    age_at_incident: int | None = None
    disability_grades: tuple[int, ...] = ()  # several injuries: the most severe (lowest number) counts
    loss_fen: int | None = None
    fault_share_bp: int | None = None  # basis points: 10000 = fully at fault
    insurance_paid_fen: int | None = None


class Fact(StrEnum):
    """The facts a benefit's rule may need (``ClaimFacts``' fields), named in refusals."""

    DISABILITY_GRADES = "disability_grades"
    AGE_AT_INCIDENT = "age_at_incident"
    LOSS = "loss_fen"
    FAULT_SHARE = "fault_share_bp"
    INSURANCE_PAID = "insurance_paid_fen"


class Formula(MessageCode):
    """How a benefit's amount was computed, with its numbers (amounts in yuan)."""

    FIXED = ("rules.amount.fixed", "fixed amount %(amount)s")
    GRADE = ("rules.amount.grade", "grade %(grade)s → %(percent)s%% × %(full)s = %(amount)s")
    GRADES = ("rules.amount.grades",
              "grades %(grades)s: most severe grade %(grade)s → %(percent)s%% × %(full)s = %(amount)s")
    AGE_BAND = ("rules.amount.age_band", "age %(age)s at the incident, band %(min)s-%(max)s → %(amount)s")
    NO_AGE_BAND = ("rules.amount.no_age_band", "age %(age)s at the incident is in no age band (%(bands)s) → 0.00")
    DRIVING = ("rules.amount.driving",
               "min(cap %(cap)s, max(0, loss %(loss)s × fault %(fault)s = %(liable)s − insurance paid %(paid)s "
               "= %(net)s)) = %(amount)s")


def _need_int(value: int | None, fact: Fact) -> int:
    if value is None:
        raise InvalidInput(PlanError.FACT_REQUIRED, fact=fact)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(PlanError.FACT_NOT_WHOLE, fact=fact)
    if value < 0:
        raise InvalidInput(PlanError.FACT_NEGATIVE, fact=fact)
    return value


def _percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


def explain_benefit(benefit: Benefit, facts: ClaimFacts) -> tuple[int, str]:
    """(amount in fen, the formula with its numbers). Raises ``InvalidInput`` for missing/bad facts."""
    amount, formula = benefit_formula(benefit, facts)
    return amount, str(formula)


def benefit_formula(benefit: Benefit, facts: ClaimFacts) -> tuple[int, Message]:
    """(amount in fen, the formula with its numbers as a message)."""
    rule = benefit.rule
    if isinstance(rule, FixedRule):
        return rule.amount_fen, Message(Formula.FIXED, {"amount": format_yuan(rule.amount_fen)})
    if isinstance(rule, DisabilityGradeRule):
        grades = facts.disability_grades
        if not grades:
            raise InvalidInput(PlanError.GRADES_REQUIRED)
        for grade in grades:
            if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 10:
                raise InvalidInput(PlanError.GRADE_RANGE, grade=repr(grade))
        grade = min(grades)
        percent = (11 - grade) * 10
        amount = rule.full_amount_fen * percent // 100
        values: dict[str, object] = {"grade": grade, "percent": percent, "full": format_yuan(rule.full_amount_fen),
                                     "amount": format_yuan(amount)}
        if len(grades) > 1:
            return amount, Message(Formula.GRADES, {"grades": list(grades), **values})
        return amount, Message(Formula.GRADE, values)
    if isinstance(rule, AgeBandedRule):
        age = _need_int(facts.age_at_incident, Fact.AGE_AT_INCIDENT)
        band = rule.band_for(age)
        if band is None:
            ranges = [f"{b.min_age}-{b.max_age}" for b in rule.bands]
            return 0, Message(Formula.NO_AGE_BAND, {"age": age, "bands": ranges})
        return band.amount_fen, Message(Formula.AGE_BAND, {"age": age, "min": band.min_age, "max": band.max_age,
                                                           "amount": format_yuan(band.amount_fen)})
    if isinstance(rule, DrivingLiabilityRule):
        loss = _need_int(facts.loss_fen, Fact.LOSS)
        bp = _need_int(facts.fault_share_bp, Fact.FAULT_SHARE)
        if bp > 10000:
            raise InvalidInput(PlanError.FAULT_RANGE, bp=bp)
        paid = _need_int(facts.insurance_paid_fen, Fact.INSURANCE_PAID)
        liable = loss * bp // 10000
        net = liable - paid
        amount = min(rule.cap_fen, max(0, net))
        return amount, Message(Formula.DRIVING, {
            "cap": format_yuan(rule.cap_fen), "loss": format_yuan(loss), "fault": _percent(bp),
            "liable": format_yuan(liable), "paid": format_yuan(paid), "net": format_yuan(net),
            "amount": format_yuan(amount)})
    raise InvalidInput(PlanError.UNKNOWN_RULE, rule=type(rule).__name__)  # pragma: no cover


def facts_to_give(benefit: Benefit) -> tuple[Fact, ...]:
    """The facts a claimant gives for this benefit's rule (the age comes from the ID number, so it
    is never asked): a claim form shows these fields and no others."""
    rule = benefit.rule
    if isinstance(rule, DisabilityGradeRule):
        return (Fact.DISABILITY_GRADES,)
    if isinstance(rule, DrivingLiabilityRule):
        return (Fact.LOSS, Fact.FAULT_SHARE, Fact.INSURANCE_PAID)
    return ()


def compute_benefit(benefit: Benefit, facts: ClaimFacts) -> int:
    """The benefit amount in fen (exact integer arithmetic, fractions of a fen rounded down)."""
    return benefit_formula(benefit, facts)[0]


# --- claim evaluation -----------------------------------------------------------------------------


class Check(StrEnum):
    """The rule checks every review runs, in this order."""

    BENEFIT_COVERED = "benefit_covered"
    ENROLLMENT_ACTIVE = "enrollment_active"
    IN_FORCE = "in_force"
    FACTS_COMPLETE = "facts_complete"
    AMOUNT = "amount"


class Finding(MessageCode):
    """What a rule check found (an amount's ``Formula`` and a fact's ``PlanError`` are findings too)."""

    BENEFIT_COVERED = ("rules.benefit_covered", "plan %(plan)s v%(version)s covers %(benefit)s")
    NO_SUCH_BENEFIT = ("rules.no_such_benefit", "plan %(plan)s has no benefit %(benefit)s (it has: %(benefits)s)")
    COVERED_ON = ("rules.covered_on", "the member was covered on %(incident_date)s")
    NOT_COVERED_ON = ("rules.not_covered_on",
                      "the member was not covered (suspended, left or not joined) on %(incident_date)s")
    IN_FORCE = ("rules.in_force",
                "incident %(incident_date)s ≥ in force %(in_force_date)s "
                "(coverage from %(coverage_anchor)s + %(waiting_days)s waiting day(s))")
    NOT_IN_FORCE = ("rules.not_in_force",
                    "incident %(incident_date)s < in force %(in_force_date)s "
                    "(coverage from %(coverage_anchor)s + %(waiting_days)s waiting day(s))")
    NO_BENEFIT_CANNOT_TELL = ("rules.no_benefit_cannot_tell", "cannot tell: the benefit is not in the plan")
    NO_BENEFIT_CANNOT_COMPUTE = ("rules.no_benefit_cannot_compute", "cannot compute: the benefit is not in the plan")
    FACTS_COMPLETE = ("rules.facts_complete", "all facts the rule needs are present and valid")
    FACTS_MISSING = ("rules.facts_missing", "cannot compute: facts are missing or invalid")


_DATE_PARAMS = frozenset({"incident_date", "in_force_date", "coverage_anchor"})


@dataclass(frozen=True)
class RuleCheck:
    code: Check
    passed: bool
    detail: str  # English, for logs and the API
    params: dict[str, Any] = field(default_factory=dict)  # the values in ``detail``, for other languages
    finding: MessageCode | None = None  # what ``detail`` says, by code (None: recorded before codes)

    @classmethod
    def of(cls, code: Check, passed: bool, finding: MessageCode | Message, **params: Any) -> RuleCheck:
        if isinstance(finding, Message):
            return cls(code, passed, str(finding), dict(finding.params), finding.code)
        return cls(code, passed, finding.english(params), params, finding)

    @property
    def message(self) -> Message | str:
        """What the check found, by code (its English ``detail`` when recorded before codes)."""
        return Message(self.finding, self.params) if self.finding else self.detail

    def stored(self) -> dict[str, Any]:
        """As JSON, for the decision that records it (``from_stored`` reads it back)."""
        params = {key: _to_json(value) for key, value in self.params.items()}
        return {"code": self.code.value, "passed": self.passed, "detail": self.detail, "params": params,
                "finding": self.finding.value if self.finding else None}

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> RuleCheck:
        params = dict(data.get("params") or {})
        finding = code_named(data["finding"]) if data.get("finding") else None
        if finding is None:
            finding, params = _finding_before_codes(data["code"], bool(data["passed"]), params)
        params = {key: _from_json(key, value) for key, value in params.items()}
        return cls(Check(data["code"]), bool(data["passed"]), data["detail"], params, finding)


def _to_json(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, Name):
        return asdict(value)
    if isinstance(value, date):
        return value.isoformat()
    return value.value if isinstance(value, StrEnum) else value


def _from_json(key: str, value: Any) -> Any:
    """A stored value as the check held it: names, dates and facts are words on the pages."""
    if isinstance(value, list):
        return [_from_json(key, v) for v in value]
    if isinstance(value, dict) and {"code", "en", "zh"} <= set(value):
        return Name(**value)
    if key in _DATE_PARAMS and isinstance(value, str):
        return date.fromisoformat(value)
    if key == "fact" and value in tuple(Fact):
        return Fact(value)
    return value


def _finding_before_codes(code: str, passed: bool, params: dict[str, Any]) -> tuple[MessageCode | None, dict[str, Any]]:
    """The finding of a check recorded before findings had codes, where its values allow it."""
    if code == "benefit_covered" and passed and {"plan", "version", "benefit_en", "benefit_zh"} <= set(params):
        benefit = Name(str(params["benefit_en"]), params["benefit_en"], params["benefit_zh"])
        return Finding.BENEFIT_COVERED, {"plan": params["plan"], "version": params["version"], "benefit": benefit}
    if code == "enrollment_active" and "incident_date" in params:
        return (Finding.COVERED_ON if passed else Finding.NOT_COVERED_ON), {"incident_date": params["incident_date"]}
    if code == "in_force" and {"incident_date", "in_force_date", "coverage_anchor", "waiting_days"} <= set(params):
        return (Finding.IN_FORCE if passed else Finding.NOT_IN_FORCE), params
    if code == "facts_complete" and passed:
        return Finding.FACTS_COMPLETE, {}
    return None, params


@dataclass(frozen=True)
class ClaimEvaluation:
    checks: tuple[RuleCheck, ...]
    amount_fen: int | None  # the computed amount whenever it can be computed
    passed: bool  # every check passed

    def failed(self) -> tuple[RuleCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)


def evaluate_claim(
    plan: Plan,
    *,
    benefit_code: str,
    incident_date: date,
    coverage_anchor: date,
    enrollment_active_on_incident: bool,
    facts: ClaimFacts,
) -> ClaimEvaluation:
    """Evaluate every rule for a claim (all checks run even when an earlier one fails).

    ``coverage_anchor`` is the date the waiting period counts from (the joining date, or the
    restart date after a long suspension).
    """
    checks: list[RuleCheck] = []
    benefit = plan.benefit(benefit_code)
    if benefit is None:
        checks.append(RuleCheck.of(Check.BENEFIT_COVERED, False, Finding.NO_SUCH_BENEFIT, plan=plan.title,
                                   benefit=repr(benefit_code), benefits=plan.benefit_codes))
    else:
        checks.append(RuleCheck.of(Check.BENEFIT_COVERED, True, Finding.BENEFIT_COVERED, plan=plan.title,
                                   version=plan.version, benefit=benefit.title))

    active = bool(enrollment_active_on_incident)
    checks.append(RuleCheck.of(Check.ENROLLMENT_ACTIVE, active, Finding.COVERED_ON if active else Finding.NOT_COVERED_ON,
                               incident_date=incident_date))

    if benefit is None:
        checks.append(RuleCheck.of(Check.IN_FORCE, False, Finding.NO_BENEFIT_CANNOT_TELL))
        checks.append(RuleCheck.of(Check.FACTS_COMPLETE, False, Finding.NO_BENEFIT_CANNOT_TELL))
        checks.append(RuleCheck.of(Check.AMOUNT, False, Finding.NO_BENEFIT_CANNOT_COMPUTE))
        return ClaimEvaluation(tuple(checks), None, False)

    start = in_force_date(benefit, coverage_anchor)
    covered = incident_date >= start
    checks.append(RuleCheck.of(Check.IN_FORCE, covered, Finding.IN_FORCE if covered else Finding.NOT_IN_FORCE,
                               incident_date=incident_date, in_force_date=start, coverage_anchor=coverage_anchor,
                               waiting_days=benefit.waiting_days))

    amount: int | None = None
    try:
        amount, formula = benefit_formula(benefit, facts)
    except InvalidInput as exc:
        checks.append(RuleCheck.of(Check.FACTS_COMPLETE, False, exc.code, **exc.params))
        checks.append(RuleCheck.of(Check.AMOUNT, False, Finding.FACTS_MISSING))
    else:
        checks.append(RuleCheck.of(Check.FACTS_COMPLETE, True, Finding.FACTS_COMPLETE))
        checks.append(RuleCheck.of(Check.AMOUNT, amount > 0, formula))

    return ClaimEvaluation(tuple(checks), amount, all(c.passed for c in checks))
