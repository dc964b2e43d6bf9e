"""Eligibility and benefit rules: pure functions over a ``Plan`` and dates passed in.

Ages are completed years (周岁). A person born on 29 February has their birthday on 28 February in
common years; this follows the corresponding-day rule for periods counted in years (Civil Code of the
PRC, art. 202: where the final month has no corresponding day, the period ends on its last day).
So someone born 2000-02-29 is 1 year old from 2001-02-28, and 18 from 2018-02-28.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from huzhu.errors import InvalidInput
from huzhu.money import format_yuan
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
        raise InvalidInput(f"date {on.isoformat()} is before the birth date {birth.isoformat()}")
    years = on.year - birth.year
    if on < _anniversary(birth, on.year):
        years -= 1
    return years


def age_in_days(birth: date, on: date) -> int:
    """Whole days since birth (0 on the day of birth)."""
    if on < birth:
        raise InvalidInput(f"date {on.isoformat()} is before the birth date {birth.isoformat()}")
    return (on - birth).days


# --- eligibility ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One reason a person cannot join. ``code`` is stable (for translations and APIs)."""

    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)


def check_eligibility(
    plan: Plan, *, birth_date: date, on: date, health_answers: dict[str, bool] | None
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
        problems.append(
            Problem(
                "born_after_joining_date",
                f"the birth date {birth_date.isoformat()} is after the joining date {on.isoformat()}",
                {"birth_date": birth_date.isoformat(), "on": on.isoformat()},
            )
        )
    else:
        years = age_on(birth_date, on)
        days = age_in_days(birth_date, on)
        if years < rules.min_age_years:
            problems.append(
                Problem(
                    "too_young",
                    f"must be at least {rules.min_age_years} years old on the joining date; is {years}",
                    {"min_age_years": rules.min_age_years, "age_years": years},
                )
            )
        elif days < rules.min_age_days:
            problems.append(
                Problem(
                    "too_young",
                    f"must be at least {rules.min_age_days} days old on the joining date; is {days} days old",
                    {"min_age_days": rules.min_age_days, "age_days": days},
                )
            )
        if years > rules.max_age_years:
            problems.append(
                Problem(
                    "too_old",
                    f"must be at most {rules.max_age_years} years old (completed years) on the joining date; "
                    f"is {years}",
                    {"max_age_years": rules.max_age_years, "age_years": years},
                )
            )

    known = [q.code for q in rules.health_questions]
    answers = dict(health_answers or {})
    unknown = sorted(code for code in answers if code not in known)
    if unknown:
        problems.append(
            Problem(
                "health_declaration_unknown_question",
                f"the health declaration answers unknown question(s): {', '.join(unknown)}",
                {"questions": unknown},
            )
        )
    if known:
        missing = [code for code in known if code not in answers]
        if health_answers is None or missing:
            problems.append(
                Problem(
                    "health_declaration_missing",
                    "this plan needs a health declaration; unanswered: " + ", ".join(missing),
                    {"questions": missing},
                )
            )
        bad = [code for code in known if answers.get(code) is not False and code in answers]
        if bad:
            problems.append(
                Problem(
                    "health_declaration_failed",
                    "every health question must be answered 'no'; answered 'yes' (or not 'no'): "
                    + ", ".join(bad),
                    {"questions": bad},
                )
            )
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


def _need_int(value: int | None, name: str) -> int:
    if value is None:
        raise InvalidInput(f"{name} is required for this benefit")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number")
    if value < 0:
        raise InvalidInput(f"{name} must not be negative")
    return value


def _percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


def explain_benefit(benefit: Benefit, facts: ClaimFacts) -> tuple[int, str]:
    """(amount in fen, the formula with its numbers). Raises ``InvalidInput`` for missing/bad facts."""
    rule = benefit.rule
    if isinstance(rule, FixedRule):
        return rule.amount_fen, f"fixed amount {format_yuan(rule.amount_fen)}"
    if isinstance(rule, DisabilityGradeRule):
        grades = facts.disability_grades
        if not grades:
            raise InvalidInput("disability_grades is required for this benefit (at least one grade 1..10)")
        for grade in grades:
            if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 10:
                raise InvalidInput(f"disability grade must be a whole number from 1 to 10, got {grade!r}")
        grade = min(grades)
        percent = (11 - grade) * 10
        amount = rule.full_amount_fen * percent // 100
        lead = f"grades {', '.join(map(str, grades))}: most severe " if len(grades) > 1 else ""
        return (
            amount,
            f"{lead}grade {grade} → {percent}% × {format_yuan(rule.full_amount_fen)} = {format_yuan(amount)}",
        )
    if isinstance(rule, AgeBandedRule):
        age = _need_int(facts.age_at_incident, "age_at_incident")
        band = rule.band_for(age)
        if band is None:
            ranges = ", ".join(f"{b.min_age}-{b.max_age}" for b in rule.bands)
            return 0, f"age {age} at the incident is in no age band ({ranges}) → 0.00"
        return band.amount_fen, (
            f"age {age} at the incident, band {band.min_age}-{band.max_age} → {format_yuan(band.amount_fen)}"
        )
    if isinstance(rule, DrivingLiabilityRule):
        loss = _need_int(facts.loss_fen, "loss_fen")
        bp = _need_int(facts.fault_share_bp, "fault_share_bp")
        if bp > 10000:
            raise InvalidInput(f"fault_share_bp must be between 0 and 10000 basis points, got {bp}")
        paid = _need_int(facts.insurance_paid_fen, "insurance_paid_fen")
        liable = loss * bp // 10000
        net = liable - paid
        amount = min(rule.cap_fen, max(0, net))
        return amount, (
            f"min(cap {format_yuan(rule.cap_fen)}, max(0, loss {format_yuan(loss)} × fault {_percent(bp)} "
            f"= {format_yuan(liable)} − insurance paid {format_yuan(paid)} = {format_yuan(net)})) "
            f"= {format_yuan(amount)}"
        )
    raise InvalidInput(f"unknown benefit rule {type(rule).__name__}")  # pragma: no cover


def compute_benefit(benefit: Benefit, facts: ClaimFacts) -> int:
    """The benefit amount in fen (exact integer arithmetic, fractions of a fen rounded down)."""
    return explain_benefit(benefit, facts)[0]


# --- claim evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleCheck:
    code: str  # benefit_covered, enrollment_active, in_force, facts_complete, amount
    passed: bool
    detail: str  # English, for logs and the API
    params: dict[str, Any] = field(default_factory=dict)  # the values in ``detail``, for other languages


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
        have = ", ".join(b.code for b in plan.benefits)
        checks.append(
            RuleCheck(
                "benefit_covered", False, f"plan {plan.code} has no benefit {benefit_code!r} (it has: {have})"
            )
        )
    else:
        checks.append(
            RuleCheck(
                "benefit_covered",
                True,
                f"plan {plan.code} v{plan.version} covers {benefit.code} ({benefit.name_en} / {benefit.name_zh})",
                {"plan": plan.code, "version": plan.version, "benefit_zh": benefit.name_zh,
                 "benefit_en": benefit.name_en},
            )
        )

    checks.append(
        RuleCheck(
            "enrollment_active",
            bool(enrollment_active_on_incident),
            f"the member was {'covered' if enrollment_active_on_incident else 'not covered (suspended, left or not joined)'}"
            f" on {incident_date.isoformat()}",
            {"incident_date": incident_date.isoformat()},
        )
    )

    if benefit is None:
        checks.append(RuleCheck("in_force", False, "cannot tell: the benefit is not in the plan"))
        checks.append(RuleCheck("facts_complete", False, "cannot tell: the benefit is not in the plan"))
        checks.append(RuleCheck("amount", False, "cannot compute: the benefit is not in the plan"))
        return ClaimEvaluation(tuple(checks), None, False)

    start = in_force_date(benefit, coverage_anchor)
    covered = incident_date >= start
    checks.append(
        RuleCheck(
            "in_force",
            covered,
            f"incident {incident_date.isoformat()} {'≥' if covered else '<'} in force {start.isoformat()} "
            f"(coverage from {coverage_anchor.isoformat()} + {benefit.waiting_days} waiting day"
            f"{'' if benefit.waiting_days == 1 else 's'})",
            {"incident_date": incident_date.isoformat(), "in_force_date": start.isoformat(),
             "coverage_anchor": coverage_anchor.isoformat(), "waiting_days": benefit.waiting_days},
        )
    )

    amount: int | None = None
    try:
        amount, formula = explain_benefit(benefit, facts)
    except InvalidInput as exc:
        checks.append(RuleCheck("facts_complete", False, exc.message))
        checks.append(RuleCheck("amount", False, "cannot compute: facts are missing or invalid"))
    else:
        checks.append(RuleCheck("facts_complete", True, "all facts the rule needs are present and valid"))
        checks.append(RuleCheck("amount", amount > 0, formula, {"amount_fen": amount}))

    return ClaimEvaluation(tuple(checks), amount, all(c.passed for c in checks))
