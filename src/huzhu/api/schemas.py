"""Request and response bodies. Money is a decimal string in yuan; dates and times ISO 8601.

``*Public`` models are what anonymous visitors see: they have no field for names, ID numbers,
phone numbers, bank accounts or documents, so such data cannot leak through them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from huzhu.accounts.models import Role
from huzhu.audit.models import Channel, ReadSubject
from huzhu.claims.models import ClaimStatus, Decision, EvidenceKind, PayeeChangeStatus
from huzhu.complaints.models import ComplaintStatus, ComplaintTopic
from huzhu.http.text import LINE_PATTERN, FreeText, Line, RequestBody
from huzhu.members.models import CoverageState, EnrollmentStatus, Relationship
from huzhu.notices.models import CaseStatus, NoticeState, ObjectionStatus
from huzhu.plans.rules import Check

# Largest id a client may send: 2**53 − 1, exact in JSON numbers and far above any real row count.
MAX_ID = 2**53 - 1
Money = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["100000.00"], description="yuan, exact")]
AmountIn = Annotated[
    str, Field(pattern=r"^([1-9][0-9]{0,12}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$", examples=["9.00"],
               description="yuan, more than zero, at most two decimals")
]
BankAccount = Annotated[str, Field(pattern=r"^[0-9]{12,19}$", examples=["6222020000000000011"])]


# Every request body: unknown fields refused, no control characters in any string (http.text).
_In = RequestBody
IdNumber = Annotated[str, Field(pattern=r"^[0-9]{15}([0-9]{2}[0-9Xx])?$", examples=["450321199006151225"],
                                description="resident ID number: 18 characters (the last may be X) or legacy 15 digits")]
Code = Annotated[Line, Field(min_length=1, max_length=40)]


# ---------------------------------------------------------------- plans


class CoveredIllnessPublic(BaseModel):
    code: str
    name_zh: str
    name_en: str
    definition_zh: str
    definition_en: str


class ExclusionPublic(BaseModel):
    code: str
    text_zh: str
    text_en: str


class BenefitPublic(BaseModel):
    code: str
    name_zh: str
    name_en: str
    category: str
    waiting_days: int
    rule: dict[str, object]
    documents: list[EvidenceKind] = Field(description="the documents a claim for this benefit needs")
    covered_illnesses: list[CoveredIllnessPublic] = Field(description="an illness benefit: every illness it covers")


class HealthQuestionPublic(BaseModel):
    code: str
    text_zh: str
    text_en: str


class PlanPublic(BaseModel):
    code: str = Field(examples=["comprehensive-accident"])
    version: int
    name_zh: str
    name_en: str
    summary_zh: str
    summary_en: str
    deposit: Money
    min_balance: Money
    cap_per_case: Money
    fee: Money
    notice_days: int
    waiting_members_share: bool
    min_age_years: int
    min_age_days: int
    max_age_years: int
    health_questions: list[HealthQuestionPublic]
    benefits: list[BenefitPublic]
    exclusions: list[ExclusionPublic] = Field(description="what the plan does not cover (免责)")
    digest: str


# ---------------------------------------------------------------- members


class MemberCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "彭静", "id_number": "450321199006151225", "relationship": "self"}]},
    )

    name: Line = Field(min_length=1, max_length=100)
    id_number: IdNumber
    relationship: Relationship = Relationship.SELF


class MemberRead(BaseModel):
    """A member as its own account (or finance staff) sees it. The ID number is masked."""

    id: int
    account_id: int | None
    relationship: Relationship
    name: str
    id_number_masked: str
    birth_date: date
    gender: Literal["F", "M"]
    region_code: str
    balance: Money
    available: Money
    pending: Money
    created_at: datetime


class EnrollmentCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"plan_code": "comprehensive-accident"}]})

    plan_code: Code
    health_answers: dict[Annotated[str, Field(max_length=40, pattern=LINE_PATTERN)], bool] | None = Field(
        default=None, description="answers to the plan's health questions (all must be false to join)"
    )


class BenefitCoverage(BaseModel):
    code: str
    name_zh: str
    name_en: str
    in_force_from: date
    in_force: bool


class EnrollmentRead(BaseModel):
    id: int
    member_id: int
    plan_code: str
    status: EnrollmentStatus
    coverage_state: CoverageState
    joined_at: datetime
    joined_on: date
    coverage_anchor_on: date
    shares_from: date
    benefits: list[BenefitCoverage]


class LeaveRequest(_In):
    bank_account: BankAccount | None = Field(default=None, description="where to refund the remaining balance")


class TopUpCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": "9.00"}]})

    amount: AmountIn


class WithdrawalCreate(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": "3.00", "bank_account": "6222020000000000011"}]}
    )

    amount: AmountIn
    bank_account: BankAccount


class BalanceRead(BaseModel):
    member_id: int
    balance: Money
    available: Money
    pending: Money
    resumed_enrollments: list[int] = []


class WithdrawalRead(BaseModel):
    member_id: int
    amount: Money
    state: Literal["posted", "pending", "voided"]
    balance: Money
    available: Money


class LedgerLine(BaseModel):
    entry_id: int
    transfer_id: int
    kind: str
    direction: Literal["in", "out"]
    amount: Money
    status: Literal["posted", "pending", "voided"]
    memo: str
    case_no: str | None
    run_no: str | None
    created_at: datetime


class ShareProof(BaseModel):
    case_no: str
    member_id: int
    share: Money
    leaf: str
    leaf_index: int
    tree_size: int
    root_hash: str
    published_root: str | None
    proof: list[str]


# ---------------------------------------------------------------- claims


class ClaimFactsIn(_In):
    disability_grades: list[Annotated[int, Field(ge=1, le=10)]] | None = Field(default=None, min_length=1, max_length=20)
    loss: AmountIn | None = None
    fault_share_percent: Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,2})?$")] | None = None
    insurance_paid: AmountIn | None = None


class ClaimFactsRead(BaseModel):
    disability_grades: list[int] | None = None
    loss: Money | None = None
    fault_share_percent: str | None = None
    insurance_paid: Money | None = None


class ClaimCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "member_id": 1, "plan_code": "comprehensive-accident", "benefit_code": "accidental_death",
        "incident_date": "2016-01-27", "incident_place": "广西阳朔县", "description": "交通事故",
        "beneficiary_name": "彭静家属", "beneficiary_account": "6222020000000000011",
    }]})

    member_id: int = Field(ge=1, le=MAX_ID)
    plan_code: Code
    benefit_code: Code
    incident_date: date
    incident_place: Line = Field(default="", max_length=200)
    description: FreeText = Field(default="", max_length=5000)
    facts: ClaimFactsIn | None = None
    beneficiary_name: Line = Field(min_length=1, max_length=100)
    beneficiary_account: BankAccount


class ClaimEventRead(BaseModel):
    occurred_at: datetime
    from_status: ClaimStatus | None
    to_status: ClaimStatus
    note: str


class ClaimRead(BaseModel):
    id: int
    claim_no: str
    member_id: int
    plan_code: str
    benefit_code: str
    status: ClaimStatus
    incident_date: date
    incident_place: str
    description: str
    facts: ClaimFactsRead
    beneficiary_name: str
    beneficiary_account_masked: str
    amount: Money | None
    decision_reason: str | None
    investigator_account_id: int | None
    reviewer_account_id: int | None
    case_no: str | None
    filed_at: datetime
    updated_at: datetime
    timeline: list[ClaimEventRead]
    receipt: str | None = Field(default=None, description="when just filed: the public log's signed promise of "
                                "inclusion (huzhu-receipt/v1 note; check it with huzhu-verify receipt)")


class EvidenceRead(BaseModel):
    id: int
    claim_id: int
    kind: EvidenceKind
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime


class ReportCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "company": "某第三方调查公司", "summary": "作业时碰撞树桩受伤属实，经伤残鉴定为二级伤残。",
        "confirmed_incident_date": "2016-02-09", "facts": {"disability_grades": [2]},
    }]})

    company: Line = Field(min_length=1, max_length=200)
    summary: FreeText = Field(min_length=1, max_length=5000, description="public, anonymised summary")
    confirmed_incident_date: date
    facts: ClaimFactsIn | None = None


class ReportRead(BaseModel):
    id: int
    claim_id: int
    investigator_account_id: int
    company: str
    summary: str
    confirmed_incident_date: date
    facts: ClaimFactsRead
    submitted_at: datetime


class RuleCheckRead(BaseModel):
    code: Check
    passed: bool
    detail: str


class EvaluationRead(BaseModel):
    claim_id: int
    passed: bool
    amount: Money | None
    checks: list[RuleCheckRead]


class DecisionCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"approve": True, "reason": "符合计划规则"}]})

    approve: bool
    reason: FreeText = Field(default="", max_length=5000)


class DecisionRead(BaseModel):
    claim: ClaimRead
    decision: Decision
    checks: list[RuleCheckRead]
    amount: Money | None
    case_no: str | None


class PayeeChangeCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "beneficiary_name": "彭静之母", "beneficiary_account": "6222020000000000099",
        "reason": "遗产继承公证书确认其母为唯一继承人"}]})

    beneficiary_name: Line = Field(min_length=1, max_length=100)
    beneficiary_account: BankAccount
    reason: FreeText = Field(min_length=5, max_length=2000, description="why the payee changes (kept with the change)")


class PayeeChangeDecision(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"approve": True, "note": "公证书核实无误"}]})

    approve: bool
    note: FreeText = Field(default="", max_length=2000)


class PayeeChangeRead(BaseModel):
    """A change of payee as staff see it: the bank accounts masked."""

    id: int
    claim_id: int
    status: PayeeChangeStatus
    beneficiary_name: str
    beneficiary_account_masked: str
    reason: str
    proposed_by_account_id: int
    proposed_at: datetime
    decided_by_account_id: int | None
    decided_at: datetime | None
    decision_note: str | None
    previous_name: str | None
    previous_account_masked: str | None


class PersonalDataReadRead(BaseModel):
    """One staff read of personal data: who, in which role, what, through which door, when."""

    id: int
    account_id: int
    role: Role
    subject: ReadSubject
    subject_ids: list[int]
    channel: Channel
    path: str
    read_at: datetime


# ---------------------------------------------------------------- public cases, objections, runs


class PayoutPublic(BaseModel):
    case_no: str
    amount: Money
    state: Literal["pending", "posted", "voided"]
    end_to_end_id: str
    sent_at: datetime


class CasePublic(BaseModel):
    case_no: str = Field(examples=["HZ000001"])
    plan: str
    benefit: str
    status: CaseStatus
    masked_name: str = Field(examples=["彭*"])
    gender: Literal["F", "M"]
    age: int
    province_zh: str
    province_en: str
    amount: Money
    fee: Money
    collected: Money | None
    shortfall: Money | None
    notice_starts_at: datetime
    notice_ends_at: datetime
    incident_summary: str
    investigation_summary: str
    run_no: str | None
    paid_at: datetime | None


class CaseEventPublic(BaseModel):
    occurred_at: datetime
    to_status: ClaimStatus
    note: str


class ObjectionPublic(BaseModel):
    id: int
    case_no: str
    reason: str
    status: ObjectionStatus
    filed_at: datetime
    resolution_note: str | None
    resolved_at: datetime | None
    in_log: bool | None = Field(default=None, description="on a case's page: the reason (and the outcome, once "
                                "resolved) is exactly what the signed public log holds")


class CaseRecordPublic(BaseModel):
    index: int = Field(description="the record's leaf index in the public log")
    kind: str
    leaf_hash: str
    payload: str = Field(description="the leaf's exact bytes (canonical JSON)")
    in_log: bool = Field(description="the stored record proves to be in the latest signed checkpoint")


class CaseDetailPublic(CasePublic):
    timeline: list[CaseEventPublic]
    objections: list[ObjectionPublic]
    payouts: list[PayoutPublic]
    public_records: list[CaseRecordPublic] = Field(default_factory=list)
    tree_size: int = Field(default=0, description="size of the signed checkpoint the records were checked against")
    checkpoint: str | None = Field(default=None, description="that signed checkpoint, with cosignatures")


class ObjectionCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "member_id": 3, "reason": "加入后第三天即出险，请核实受伤时间。"}]})

    member_id: int = Field(ge=1, le=MAX_ID)
    reason: FreeText = Field(min_length=5, max_length=2000)


class ObjectionRead(ObjectionPublic):
    member_id: int
    account_id: int
    resolved_by_account_id: int | None
    receipt: str | None = Field(default=None, description="when just filed: the public log's signed promise of "
                                "inclusion (huzhu-receipt/v1 note; check it with huzhu-verify receipt)")


class ResolutionCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "upheld": False, "note": "调查报告与医院记录确认受伤时间在生效日之后。"}]})

    upheld: bool
    note: FreeText = Field(min_length=2, max_length=2000)


class RunCasePublic(BaseModel):
    case_no: str
    benefit: Money
    sharing_members: int
    paying_members: int
    cap_per_member: Money
    share_per_member: Money
    members_paying_one_fen_more: int
    members_limited_by_balance: int
    collected: Money
    shortfall: Money
    leftover_pivot_member: int
    shares_root: str | None


class RunPublic(BaseModel):
    run_no: str = Field(examples=["R000001"])
    as_of: datetime
    cases_count: int
    sharing_members: int
    total_benefit: Money
    total_collected: Money
    total_shortfall: Money
    suspended_enrollments: int


class RunDetailPublic(RunPublic):
    cases: list[RunCasePublic]
    leftover_rule: str


class BankSyncRead(BaseModel):
    """The run's exchanges with the custodian bank (before and after the job), added up."""

    payments_sent: int
    messages_read: int
    deposits_booked: int
    statements: list[str]
    exceptions_waiting: int
    error: str = Field(description="empty, or why the bank did not answer (what is queued stays queued)")


class JobReportRead(BaseModel):
    run_no: str | None
    cases_shared: list[str]
    cases_paid: list[str]
    roots_published: int
    reconciliation_matched: bool | None
    bank_sync: BankSyncRead | None = Field(default=None, description="null without a custodian bank")


class ReconciliationPublic(BaseModel):
    id: int
    statement_id: str
    performed_at: datetime
    bank_closing: Money
    ledger_custody: Money
    statement_entries: int
    unmatched_entries: int
    matched: bool


# ---------------------------------------------------------------- transparency, ledger, sandbox


class TreeHead(BaseModel):
    tree_size: int
    root_hash: str
    checkpoint: str | None = Field(default=None, description="the signed checkpoint (C2SP tlog-checkpoint note) "
                                   "of this size, with witness cosignatures")


class MonthCount(BaseModel):
    month: str = Field(examples=["2016-02"])
    members: int


class MonthAmount(BaseModel):
    month: str = Field(examples=["2016-02"])
    amount: str = Field(examples=["190000.00"])


class RunAmount(BaseModel):
    run_no: str
    amount: str


class PublicReport(BaseModel):
    """The operating report's figures, the same the home page and ``/report`` show."""

    members: int = Field(description="members with at least one plan they have not left")
    enrollments_in_force: int
    enrollments_suspended: int
    cases: int = Field(description="cases noticed and after, withdrawn ones excepted")
    cases_in_notice: int
    aid_paid: str
    shortfall_published: str
    fees: str = Field(description="management fees taken: zero (zero profit)")
    held_by_custodian: str
    runs: int
    members_per_plan: dict[str, int]
    members_over_time: list[MonthCount]
    aid_per_month: list[MonthAmount]
    cost_per_member_per_run: list[RunAmount]
    tree_head: TreeHead


class PublicRecordRead(BaseModel):
    id: int
    leaf_index: int = Field(description="the record's leaf index in the public log")
    kind: str
    subject: str
    recorded_at: datetime
    leaf_hash: str
    prev_hash: str
    payload: str = Field(description="canonical JSON; its RFC 6962 leaf hash is leaf_hash")


class PublicRecordPage(BaseModel):
    """A page of public records, all inside the signed checkpoint it was read against."""

    items: list[PublicRecordRead]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page; null on the last page",
                                    examples=[None])
    tree_size: int = Field(description="size of the latest signed checkpoint; only records with a leaf index "
                           "below it are listed")
    root_hash: str = Field(description="hex of that checkpoint's RFC 9162 root")
    checkpoint: str | None = Field(description="that signed checkpoint (C2SP tlog-checkpoint note) with witness "
                                   "cosignatures; null while the log has none")


class RecordProof(BaseModel):
    record_id: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str]
    checkpoint: str = Field(description="the signed checkpoint of tree_size the proof leads to")


class Violation(BaseModel):
    invariant: str
    message: str


class LedgerCheck(BaseModel):
    ok: bool
    checked_at: datetime
    violations: list[Violation]
    public_record_problems: list[str]


class ClockRead(BaseModel):
    now: datetime
    mode: Literal["sandbox", "production"]


class ClockUpdate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"advance": "P7DT1H"},
                                                                             {"to": "2016-02-23T11:00:00+08:00"}]})

    to: datetime | None = Field(default=None, description="move the clock to this time (timezone required)")
    advance: timedelta | None = Field(default=None, description="ISO 8601 duration or seconds, e.g. P7D")

    @model_validator(mode="after")
    def _one(self) -> ClockUpdate:
        if (self.to is None) == (self.advance is None):
            raise ValueError("give exactly one of 'to' or 'advance'")
        if self.to is not None and self.to.tzinfo is None:
            raise ValueError("'to' needs a timezone, e.g. 2016-02-23T11:00:00+08:00")
        if self.advance is not None and not timedelta(0) < self.advance <= timedelta(days=3650):
            raise ValueError("'advance' must be positive and at most ten years")
        if self.to is not None and not 1900 <= self.to.year <= 2200:
            raise ValueError("'to' must be between the years 1900 and 2200")
        return self


# ---------------------------------------------------------------- what the claimant and an objector see


class NoticeFactsPublic(BaseModel):
    """What an objector needs to judge a case in notice (never a name, document or account)."""

    case_no: str = Field(examples=["HZ000002"])
    joined_on: date | None
    in_force_on: date | None
    incident_date: date | None
    incident_place: str
    investigation_company: str
    documents: list[DocumentCountPublic]
    expected_share: ExpectedSharePublic | None


class DocumentCountPublic(BaseModel):
    kind: EvidenceKind
    count: int


class ExpectedSharePublic(BaseModel):
    """The case shared as if the run happened now, over today's balances."""

    share_per_member: Money
    members_paying_one_fen_more: int
    sharing_members: int
    collected: Money
    shortfall: Money
    cap_per_member: Money
    run_after: datetime


class PayoutRead(BaseModel):
    amount: Money
    shortfall: Money
    paid_at: datetime
    bank_reference: str | None
    account_last_digits: str


class ClaimOutcomeRead(BaseModel):
    """A claim after its approval: the notice, every objection and its outcome, the run, the payout."""

    claim_no: str
    status: ClaimStatus
    case_no: str | None
    notice_starts_at: datetime | None
    notice_ends_at: datetime | None
    notice_state: NoticeState | None
    withdrawn_cases: list[str]
    objections: list[ObjectionPublic]
    run_no: str | None
    paying_members: int | None
    collected: Money | None
    payout: PayoutRead | None
    receipt_url: str | None = Field(description="the PDF receipt, once paid")


class ComplaintCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "topic": "money", "subject": "提现到账时间", "body": "提现后多久到账？页面没有写明。"}]})

    topic: ComplaintTopic
    subject: Line = Field(min_length=2, max_length=200)
    body: FreeText = Field(min_length=5, max_length=5000)


class ComplaintAnswer(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "answer": "托管银行通常在一个工作日内到账。"}]})

    answer: FreeText = Field(min_length=2, max_length=5000)


class ComplaintRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    complaint_no: str = Field(examples=["HZT000001"])
    account_id: int
    topic: ComplaintTopic
    subject: str
    body: str
    status: ComplaintStatus
    filed_at: datetime
    answer: str | None
    answered_at: datetime | None
    closed_at: datetime | None
