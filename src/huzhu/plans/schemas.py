"""Plan rules as validated, immutable data (Pydantic v2).

In plan files, money is a yuan string ("9.00") under a key without suffix (``deposit``,
``amount``...); on load it becomes integer fen in the ``*_fen`` field (``deposit_fen``...). The
``*_fen`` keys are also accepted (as integers), so a dumped model validates back to the same plan.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from huzhu.errors import InvalidInput
from huzhu.messages import Name
from huzhu.money import format_yuan, parse_yuan

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Fen = Annotated[StrictInt, Field(ge=0)]


class _Model(BaseModel):
    """Frozen, no unknown keys, strict scalars; converts yuan-string keys to fen fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    # file key (yuan string) -> model field (fen); and which of them may be zero
    _YUAN_KEYS: ClassVar[dict[str, str]] = {}
    _ZERO_ALLOWED: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _yuan_to_fen(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls._YUAN_KEYS:
            return data
        data = dict(data)
        for key, field in cls._YUAN_KEYS.items():
            if key not in data:
                continue
            if field in data:
                raise ValueError(f"{key}: give either {key!r} (yuan) or {field!r} (fen), not both")
            value = data.pop(key)
            if not isinstance(value, str):
                raise ValueError(f'{key}: write the amount in yuan as a quoted string, e.g. "9.00"')
            if value.strip().startswith("-"):
                raise ValueError(f"{key}: amount must not be negative, got {value.strip()!r}")
            try:
                data[field] = parse_yuan(value, field=key, allow_zero=key in cls._ZERO_ALLOWED)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        return data


class HealthQuestion(_Model):
    code: Code
    text_zh: Text
    text_en: Text


# The kinds of document a claim may carry (the claims domain's ``EvidenceKind``, which a test holds
# equal to this list): a benefit's checklist names the ones it needs.
DocumentKind = Literal["medical", "police", "death_certificate", "invoice", "disability_assessment", "other"]


class Exclusion(_Model):
    """A case the plan does not help with (免责), in both languages."""

    code: Code
    text_zh: Text
    text_en: Text


class CoveredIllness(_Model):
    """One illness an illness benefit covers, with the plain-words definition a claim is judged by."""

    code: Code
    name_zh: Text
    name_en: Text
    definition_zh: Text
    definition_en: Text


class Eligibility(_Model):
    min_age_years: StrictInt = Field(default=0, ge=0, le=150)
    min_age_days: StrictInt = Field(default=0, ge=0, le=366)
    max_age_years: StrictInt = Field(ge=0, le=150)  # inclusive, completed years (周岁)
    health_questions: tuple[HealthQuestion, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Eligibility:
        if self.min_age_years > self.max_age_years:
            raise ValueError(
                f"min_age_years: {self.min_age_years} is greater than max_age_years ({self.max_age_years})"
            )
        codes = [q.code for q in self.health_questions]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"health_questions: duplicate code(s) {', '.join(dupes)}")
        return self

    @property
    def health_declaration_required(self) -> bool:
        return bool(self.health_questions)


class FixedRule(_Model):
    _YUAN_KEYS = {"amount": "amount_fen"}
    type: Literal["fixed"]
    amount_fen: StrictInt = Field(gt=0)


class DisabilityGradeRule(_Model):
    """Grade 1 = 100% of the full amount … grade 10 = 10% (10 points a grade)."""

    _YUAN_KEYS = {"full_amount": "full_amount_fen"}
    type: Literal["disability_grade"]
    full_amount_fen: StrictInt = Field(gt=0)


class AgeBand(_Model):
    _YUAN_KEYS = {"amount": "amount_fen"}
    min_age: StrictInt = Field(ge=0, le=150)
    max_age: StrictInt = Field(ge=0, le=150)  # inclusive
    amount_fen: StrictInt = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> AgeBand:
        if self.min_age > self.max_age:
            raise ValueError(f"min_age: {self.min_age} is greater than max_age ({self.max_age})")
        return self


class AgeBandedRule(_Model):
    """Amount by age (completed years) at the incident."""

    type: Literal["age_banded"]
    bands: tuple[AgeBand, ...]

    @model_validator(mode="after")
    def _check(self) -> AgeBandedRule:
        if not self.bands:
            raise ValueError("bands: give at least one age band")
        ordered = sorted(self.bands, key=lambda b: b.min_age)
        for prev, band in zip(ordered, ordered[1:], strict=False):
            if band.min_age <= prev.max_age:
                raise ValueError(
                    f"bands: age bands overlap: {prev.min_age}-{prev.max_age} and {band.min_age}-{band.max_age}"
                )
        return self

    def band_for(self, age: int) -> AgeBand | None:
        return next((b for b in self.bands if b.min_age <= age <= b.max_age), None)


class DrivingLiabilityRule(_Model):
    """min(cap, loss × fault share − insurance paid), never below 0."""

    _YUAN_KEYS = {"cap": "cap_fen"}
    type: Literal["driving_liability"]
    cap_fen: StrictInt = Field(gt=0)


Rule = Annotated[
    FixedRule | DisabilityGradeRule | AgeBandedRule | DrivingLiabilityRule,
    Field(discriminator="type"),
]


class Benefit(_Model):
    code: Code
    name_zh: Text
    name_en: Text
    category: Literal["accident", "illness", "liability"]
    waiting_days: StrictInt = Field(ge=0, le=3650)  # 1 = in force the day after the coverage anchor
    rule: Rule
    # A death benefit ends the member's enrollments; the remaining balance goes to the beneficiary.
    ends_membership: StrictBool = False
    # The documents a claim for this benefit needs (the claim form's checklist).
    documents: tuple[DocumentKind, ...]
    # For an illness benefit: every illness it covers (and only those).
    covered_illnesses: tuple[CoveredIllness, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Benefit:
        if not self.documents:
            raise ValueError("documents: list at least one document a claim needs")
        dupes = sorted({d for d in self.documents if self.documents.count(d) > 1})
        if dupes:
            raise ValueError(f"documents: duplicate kind(s) {', '.join(dupes)}")
        if self.category == "illness" and not self.covered_illnesses:
            raise ValueError("covered_illnesses: an illness benefit must list the illnesses it covers")
        if self.category != "illness" and self.covered_illnesses:
            raise ValueError(f"covered_illnesses: only an illness benefit lists illnesses (this one is {self.category})")
        illness_codes = [i.code for i in self.covered_illnesses]
        illness_dupes = sorted({c for c in illness_codes if illness_codes.count(c) > 1})
        if illness_dupes:
            raise ValueError(f"covered_illnesses: duplicate code(s) {', '.join(illness_dupes)}")
        return self

    @property
    def title(self) -> Name:
        """The benefit's name in both languages, as a value in messages."""
        return Name(self.code, self.name_en, self.name_zh)


class Plan(_Model):
    _YUAN_KEYS = {
        "deposit": "deposit_fen",
        "min_balance": "min_balance_fen",
        "cap_per_case": "cap_per_case_fen",
        "fee": "fee_fen",
    }
    _ZERO_ALLOWED = frozenset({"min_balance", "fee"})

    code: Slug
    version: StrictInt = Field(ge=1)
    name_zh: Text
    name_en: Text
    summary_zh: Text
    summary_en: Text
    deposit_fen: StrictInt = Field(gt=0)
    min_balance_fen: Fen
    cap_per_case_fen: StrictInt = Field(gt=0)
    notice_days: StrictInt = Field(ge=1, le=365)
    fee_fen: Fen
    waiting_members_share: StrictBool
    restart_waiting_after_suspension_days: StrictInt | None = Field(default=None, ge=1)
    eligibility: Eligibility
    benefits: tuple[Benefit, ...]
    exclusions: tuple[Exclusion, ...]

    @model_validator(mode="after")
    def _check(self) -> Plan:
        if not self.benefits:
            raise ValueError("benefits: a plan needs at least one benefit")
        if not self.exclusions:
            raise ValueError("exclusions: a plan must say what it does not cover")
        codes = [e.code for e in self.exclusions]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"exclusions: duplicate code(s) {', '.join(dupes)}")
        if self.fee_fen != 0:
            raise ValueError(f"fee: must be 0.00 (zero profit), got {format_yuan(self.fee_fen)}")
        if self.min_balance_fen > self.deposit_fen:
            raise ValueError(
                f"min_balance: {format_yuan(self.min_balance_fen)} is greater than the deposit "
                f"({format_yuan(self.deposit_fen)}): a new member would start suspended"
            )
        codes = [b.code for b in self.benefits]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"benefits: duplicate code(s) {', '.join(dupes)}")
        if any(b.category == "illness" for b in self.benefits) and not self.eligibility.health_questions:
            raise ValueError(
                "eligibility.health_questions: a plan with an illness benefit must ask health questions"
            )
        for index, benefit in enumerate(self.benefits):
            if isinstance(benefit.rule, AgeBandedRule):
                for age in range(self.eligibility.min_age_years, self.eligibility.max_age_years + 1):
                    if benefit.rule.band_for(age) is None:
                        raise ValueError(
                            f"benefits[{index}].rule.bands: benefit {benefit.code}: no age band covers age {age}, which the plan admits"
                        )
        return self

    @property
    def title(self) -> Name:
        """The plan's name in both languages, as a value in messages (English sentences name it by code)."""
        return Name(self.code, self.name_en, self.name_zh, by_code=True)

    @property
    def benefit_codes(self) -> list[Name]:
        """The benefits' names, as a list in messages (English sentences list their codes)."""
        return [Name(b.code, b.name_en, b.name_zh, by_code=True) for b in self.benefits]

    def benefit(self, code: str) -> Benefit | None:
        """The benefit with this code, or None."""
        return next((b for b in self.benefits if b.code == code), None)
