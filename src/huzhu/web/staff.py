"""Staff pages: the investigator queue and report form, the reviewer workbench with every rule check,
the objections queue, and the admin desk (run the jobs, ledger check, plans, staff, sandbox clock)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.responses import Response, StreamingResponse

from huzhu.accounts.models import STAFF_ROLES, Account, Role
from huzhu.audit import service as audit
from huzhu.audit.models import Channel, ReadSubject
from huzhu.banking.jobs import BankSyncSummary, run_jobs_with_bank
from huzhu.casework import service as casework
from huzhu.claims import service as claims
from huzhu.claims.evidence import open_evidence
from huzhu.claims.models import Claim, ClaimStatus, Decision, ReviewDecision
from huzhu.clock import CHINA_TZ
from huzhu.complaints import service as complaints
from huzhu.complaints.models import ComplaintStatus
from huzhu.custody.service import refuse_without_bank
from huzhu.errors import DomainError, InvalidInput, NotFound
from huzhu.http.audit import record_staff_read
from huzhu.http.logs import describe_exception
from huzhu.jobs import JobReport
from huzhu.ledger.invariants import check_ledger
from huzhu.members.models import Enrollment, Member
from huzhu.notices import service as notices
from huzhu.notices.models import Case, Objection, ObjectionStatus
from huzhu.plans.rules import RuleCheck, age_on, facts_to_give
from huzhu.reports import service as reports
from huzhu.web.core import (
    Ctx,
    PageError,
    PageNotFound,
    WebRoute,
    domain_message,
    finish,
    form_data,
    page_ctx,
    redirect,
    render,
    require,
)
from huzhu.web.member import FACT_FIELDS, claim_details, facts_from_form, field, parse_day
from huzhu.web.public import benefit_name, case_view, plan_name
from huzhu.web.words import word

router = APIRouter(route_class=WebRoute, include_in_schema=False)
log = logging.getLogger("huzhu.web")

@router.get("/staff")
def staff_home(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, *STAFF_ROLES)
    target = {Role.INVESTIGATOR: "/staff/investigations", Role.REVIEWER: "/staff/reviews", Role.ADMIN: "/admin"}
    if account.role in target:
        return redirect(ctx, target[account.role])
    return auditor_page(ctx, violations=None)


def auditor_page(ctx: Ctx, *, violations: list | None) -> Response:
    """The auditor's desk, read only: the finance figures, the ledger check, every reconciliation."""
    stats = ctx.platform.cached_figure("stats", reports.public_stats)
    books = ctx.platform.cached_figure("books", reports.report_books)
    with ctx.platform.read_factory() as s:
        finance = reports.finance_figures(s)
        complaints_open = sum(1 for c in complaints.complaints_of(s, actor=require(ctx))
                              if c.status == ComplaintStatus.OPEN)
    return render(ctx, "staff/auditor.html", stats=stats, reconciliations=books["reconciliations"], head=books["head"],
                  finance=finance, violations=violations, complaints_open=complaints_open)


@router.post("/staff/ledger-check")
def auditor_ledger_check(request: Request) -> Response:
    """The auditor runs the ledger check (a read: nothing is written)."""
    ctx = page_ctx(request)
    require(ctx, Role.AUDITOR)
    with ctx.platform.read_factory() as s:
        violations = check_ledger(s)
    return auditor_page(ctx, violations=violations)


def claim_row(ctx: Ctx, s: Session, claim: Claim) -> dict[str, Any]:
    member = s.get(Member, claim.member_id)
    return {"c": claim, "member": member, "age": age_on(member.birth_date, claim.incident_date) if member else None,
            "plan_name": plan_name(ctx, ctx.platform.plans, claim.plan_code),
            "benefit_name": benefit_name(ctx, ctx.platform.plans, claim.plan_code, claim.benefit_code)}


# ---------------------------------------------------------------- investigators


@router.get("/staff/investigations")
def investigations(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.INVESTIGATOR)
    with ctx.platform.read_factory() as s:
        rows = [claim_row(ctx, s, c) for c in s.scalars(
            select(Claim).where(or_(Claim.status == ClaimStatus.SUBMITTED,
                                    (Claim.status == ClaimStatus.INVESTIGATING)
                                    & (Claim.investigator_account_id == account.id)))
            .order_by(Claim.filed_at, Claim.id))]
    record_staff_read(request, account, ReadSubject.CLAIM, (r["c"].id for r in rows), channel=Channel.WEB)
    return render(ctx, "staff/investigations.html", rows=rows)


@router.post("/staff/claims/{claim_id:int}/start")
def start_investigation(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.INVESTIGATOR)
    with ctx.platform.session() as s:
        claims.start_investigation(s, actor=s.get(Account, account.id), claim_id=claim_id, now=ctx.now)
    return redirect(ctx, f"/staff/claims/{claim_id}/report")


@router.get("/staff/claims/{claim_id:int}/report")
def report_form(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.INVESTIGATOR)
    with ctx.platform.read_factory() as s:
        details = claim_details(ctx, s, claims.claim_for_reading(s, actor=account, claim_id=claim_id))
    record_staff_read(request, account, ReadSubject.CLAIM, [claim_id], channel=Channel.WEB)
    return render(ctx, "staff/report.html", d=details, form={}, error="", needed=facts_needed(ctx, details["c"]))


def facts_needed(ctx: Ctx, claim: Claim) -> tuple[str, ...]:
    """The fact fields the claim's benefit needs (the report form shows those and no others)."""
    plan = ctx.platform.plans.get(claim.plan_code)
    benefit = plan.benefit(claim.benefit_code) if plan else None
    return tuple(FACT_FIELDS[f] for f in facts_to_give(benefit)) if benefit else ()


@router.post("/staff/claims/{claim_id:int}/report")
def submit_report(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.INVESTIGATOR)
    form = form_data(request)
    values = {k: field(form, k) for k in ("company", "summary", "confirmed_incident_date", "disability_grades", "loss",
                                          "fault_share_percent", "insurance_paid")}
    try:
        with ctx.platform.session() as s:
            claim = claims.claim_or_raise(s, claim_id)
            claims.submit_report(s, actor=s.get(Account, account.id), claim_id=claim_id, company=values["company"],
                                 summary=values["summary"], now=ctx.now,
                                 facts=facts_from_form(form, facts_needed(ctx, claim)),
                                 confirmed_incident_date=parse_day(values["confirmed_incident_date"],
                                                                   PageError.CONFIRMED_DATE))
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            details = claim_details(ctx, s, claims.claim_or_raise(s, claim_id))
        return render(ctx, "staff/report.html", status_code=exc.status_code, d=details, form=values,
                      error=domain_message(ctx, exc), needed=facts_needed(ctx, details["c"]))
    return redirect(ctx, "/staff/investigations?done=1")


@router.get("/staff/evidence/{evidence_id:int}")
def evidence_file(request: Request, evidence_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.INVESTIGATOR, Role.REVIEWER, Role.ADMIN)
    try:
        with ctx.platform.read_factory() as s:
            actor = s.get(Account, account.id)
            if actor is None:  # the account was removed after this page's session began
                raise PageNotFound()
            evidence, _ = open_evidence(s, ctx.platform.evidence, actor=actor, evidence_id=evidence_id)
    except NotFound:
        raise PageNotFound() from None
    record_staff_read(request, account, ReadSubject.EVIDENCE, [evidence.id], channel=Channel.WEB)
    response = StreamingResponse(ctx.platform.evidence.chunks(evidence), media_type=evidence.content_type,
                                 headers={"Content-Disposition": "inline", "Content-Length": str(evidence.size_bytes)})
    return finish(ctx, response)


# ---------------------------------------------------------------- reviewers


@router.get("/staff/reviews")
def reviews(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.REVIEWER)
    with ctx.platform.read_factory() as s:
        rows = [claim_row(ctx, s, c) for c in s.scalars(
            select(Claim).where(Claim.status == ClaimStatus.REVIEWING).order_by(Claim.updated_at, Claim.id))]
        decided = [claim_row(ctx, s, c) for c in s.scalars(
            select(Claim).where(Claim.status.in_((ClaimStatus.APPROVED, ClaimStatus.REJECTED)))
            .order_by(Claim.updated_at.desc()).limit(20))]
    record_staff_read(request, account, ReadSubject.CLAIM, (r["c"].id for r in rows + decided), channel=Channel.WEB)
    return render(ctx, "staff/reviews.html", rows=rows, decided=decided)


def workbench(ctx: Ctx, s: Session, claim_id: int) -> dict[str, Any]:
    claim = claims.claim_or_raise(s, claim_id)
    details = claim_details(ctx, s, claim)
    evaluation = claims.evaluate(s, plans=ctx.platform.plans, claim=claim) if claim.status == ClaimStatus.REVIEWING else None
    # A decided claim shows each decision with the rule checks as they were recorded at the time.
    decisions = [{"decision": d, "reason": word(ctx.locale, casework.decision_reason(d.reason)),
                  "checks": [RuleCheck.from_stored(c) for c in d.checks]} for d in s.scalars(
        select(ReviewDecision).where(ReviewDecision.claim_id == claim.id).order_by(ReviewDecision.id))]
    return {"d": details, "evaluation": evaluation, "decisions": decisions, "row": claim_row(ctx, s, claim),
            "check_text": lambda check: check_text(ctx, check)}


def check_text(ctx: Ctx, check: RuleCheck) -> str:
    """A rule check's finding in the page's language, by its code."""
    return word(ctx.locale, check.message)


@router.get("/staff/claims/{claim_id:int}/review")
def review_page(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.REVIEWER)
    with ctx.platform.read_factory() as s:
        view = workbench(ctx, s, claim_id)
    record_staff_read(request, account, ReadSubject.CLAIM, [claim_id], channel=Channel.WEB)
    return render(ctx, "staff/review.html", **view, error="", reason="")


@router.post("/staff/claims/{claim_id:int}/decide")
def decide(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.REVIEWER)
    form = form_data(request)
    reason = field(form, "reason")
    approve = field(form, "decision") == Decision.APPROVE
    try:
        if field(form, "decision") not in tuple(Decision):
            raise InvalidInput(PageError.CHOOSE_DECISION)
        with ctx.platform.session() as s:
            casework.decide(s, plans=ctx.platform.plans, actor=s.get(Account, account.id), claim_id=claim_id,
                          approve=approve, reason=reason, now=ctx.now)
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            view = workbench(ctx, s, claim_id)
        return render(ctx, "staff/review.html", status_code=exc.status_code, **view,
                      error=domain_message(ctx, exc), reason=reason)
    return redirect(ctx, "/staff/reviews?done=1")


@router.get("/staff/objections")
def objections(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.REVIEWER)
    with ctx.platform.read_factory() as s:
        rows = objection_rows(ctx, s)
    record_staff_read(request, account, ReadSubject.OBJECTION, (r["o"].id for r in rows), channel=Channel.WEB)
    return render(ctx, "staff/objections.html", rows=rows, error=request.query_params.get("error", ""))


def objection_rows(ctx: Ctx, s: Session) -> list[dict[str, Any]]:
    """Each objection with its case, whether this reviewer may resolve it, and its note in words."""
    actor = s.get(Account, ctx.account.id) if ctx.account else None
    return [{"o": o, "v": case_view(ctx, c),
             "may_resolve": actor is not None and casework.may_resolve(s, actor=actor, objection=o),
             "note": word(ctx.locale, casework.resolution_note(o.resolution_note)) if o.resolution_note else ""}
            for o, c in s.execute(select(Objection, Case).join(Case, Case.id == Objection.case_id).order_by(
                (Objection.status != ObjectionStatus.OPEN), Objection.filed_at.desc()).limit(200))]


@router.post("/staff/objections/{objection_id:int}/resolve")
def resolve(request: Request, objection_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.REVIEWER)
    form = form_data(request)
    try:
        if field(form, "outcome") not in (ObjectionStatus.DISMISSED, ObjectionStatus.UPHELD):
            raise InvalidInput(PageError.CHOOSE_OUTCOME)
        with ctx.platform.session() as s:
            casework.resolve_objection(s, actor=s.get(Account, account.id), objection_id=objection_id,
                                      upheld=field(form, "outcome") == ObjectionStatus.UPHELD, note=field(form, "note"),
                                      now=ctx.now)
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            rows = objection_rows(ctx, s)
        return render(ctx, "staff/objections.html", status_code=exc.status_code, rows=rows,
                      error=domain_message(ctx, exc))
    return redirect(ctx, "/staff/objections")


# ---------------------------------------------------------------- auditors


@router.get("/staff/audit")
def audit_log(request: Request) -> Response:
    """Every staff read of evidence or personal data (newest first): who, in which role, what, when."""
    ctx = page_ctx(request)
    require(ctx, Role.AUDITOR)
    with ctx.platform.read_factory() as s:
        reads = audit.latest_reads(s, limit=200)
        names = {a.id: a.display_name for a in s.scalars(select(Account).where(
            Account.id.in_({r.account_id for r in reads})))}
    return render(ctx, "staff/audit.html", reads=reads, names=names)


# ---------------------------------------------------------------- admin


def admin_view(ctx: Ctx, s: Session) -> dict[str, Any]:
    staff = list(s.scalars(select(Account).where(Account.role != Role.MEMBER).order_by(Account.role, Account.id)))
    # One state per case in notice: running, held by an open objection, or due for the next run.
    board = notices.notice_board(s, now=ctx.now)
    plan_counts = {code: s.scalar(select(Enrollment.id).where(Enrollment.plan_code == code).limit(1)) is not None
                   for code in ctx.platform.plans}
    open_complaints = sum(1 for c in complaints.complaints_of(s, actor=ctx.account)
                          if c.status == ComplaintStatus.OPEN) if ctx.account else 0
    return {"staff": staff, "board": {state: [case_view(ctx, c) for c in cases] for state, cases in board.items()},
            "plans": list(ctx.platform.plans.values()), "plan_counts": plan_counts,
            "open_complaints": open_complaints}


@router.get("/admin")
def admin(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, Role.ADMIN)
    with ctx.platform.read_factory() as s:
        view = admin_view(ctx, s)
    return render(ctx, "staff/admin.html", **view, run=RUNS.snapshot(), violations=None, error="")


class RunMonitor:
    """The run an admin started from this page, carried out in a background thread so the page can
    show its progress while it works (one at a time per server process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.steps: list[tuple[float, str]] = []
        self.started = 0.0
        self.report: JobReport | None = None
        self.bank: BankSyncSummary | None = None  # the exchanges with the custodian bank, when one is configured
        self.error: str | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, platform: Any, *, now: Any, actor_id: int) -> bool:
        with self.lock:
            if self.running:
                return False
            self.steps, self.report, self.bank, self.error = [], None, None, None
            self.started = time.monotonic()

            def work() -> None:
                try:
                    self.report, self.bank = run_jobs_with_bank(
                        platform.factory, plans=platform.plans, custodian=platform.custodian,
                        connector=platform.bank.connector if platform.bank is not None else None,
                        now=now, actor_id=actor_id, progress=self.step)
                except Exception as exc:  # noqa: BLE001 - shown to the admin and logged
                    log.exception("apportionment run failed")
                    self.error = describe_exception(exc)  # never the data a database error names
                finally:
                    platform.public_figures.clear()

            self.thread = threading.Thread(target=work, name="apportionment-run", daemon=True)
            self.thread.start()
            return True

    def step(self, message: str) -> None:
        self.steps.append((time.monotonic() - self.started, message))

    def snapshot(self) -> dict[str, Any]:
        return {"running": self.running, "steps": list(self.steps), "report": self.report, "bank": self.bank,
                "error": self.error,
                "elapsed": time.monotonic() - self.started if self.started else 0.0,
                "started": bool(self.started)}


RUNS = RunMonitor()


@router.post("/admin/run")
def trigger_run(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.ADMIN)
    try:
        refuse_without_bank(ctx.platform.custodian)  # production without HUZHU_CUSTODY_BANK
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            view = admin_view(ctx, s)
        return render(ctx, "staff/admin.html", status_code=exc.status_code, **view, run=RUNS.snapshot(),
                      violations=None, error=domain_message(ctx, exc))
    RUNS.start(ctx.platform, now=ctx.now, actor_id=account.id)  # already running: just show its progress
    return redirect(ctx, "/admin#run-progress")


@router.get("/admin/run/progress")
def run_progress(request: Request) -> Response:
    """The progress panel, polled by HTMX every second until the run is over."""
    ctx = page_ctx(request)
    require(ctx, Role.ADMIN)
    return render(ctx, "staff/_run_progress.html", run=RUNS.snapshot())


@router.post("/admin/ledger-check")
def ledger_check(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, Role.ADMIN)
    with ctx.platform.read_factory() as s:
        violations = check_ledger(s)
        view = admin_view(ctx, s)
    return render(ctx, "staff/admin.html", **view, run=RUNS.snapshot(), violations=violations, error="")


@router.post("/admin/clock")
def advance_clock(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, Role.ADMIN)
    if not ctx.platform.settings.sandbox:
        raise PageNotFound()
    form = form_data(request)
    try:
        days, hours = field(form, "days") or "0", field(form, "hours") or "0"
        target = field(form, "to")
        clock = ctx.platform.clock
        if target:
            try:
                moment = datetime.fromisoformat(target)
            except ValueError:
                raise InvalidInput(PageError.CLOCK_TIME) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=CHINA_TZ)
            clock.set(moment)  # type: ignore[attr-defined]
        else:
            if not (days.isdigit() and hours.isdigit()):
                raise InvalidInput(PageError.CLOCK_NUMBERS)
            clock.advance(timedelta(days=int(days), hours=int(hours)))  # type: ignore[attr-defined]
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            view = admin_view(ctx, s)
        return render(ctx, "staff/admin.html", status_code=exc.status_code, **view, run=RUNS.snapshot(), violations=None,
                      error=domain_message(ctx, exc))
    return redirect(ctx, "/admin")


# ---------------------------------------------------------------- complaints


def staff_complaints_page(ctx: Ctx, *, status_code: int = 200, error: str = "") -> Response:
    with ctx.platform.read_factory() as s:
        rows = complaints.complaints_of(s, actor=require(ctx))
    return render(ctx, "staff/complaints.html", status_code=status_code, complaints=rows, error=error,
                  can_answer=ctx.account is not None and ctx.account.role == Role.ADMIN)


@router.get("/staff/complaints")
def staff_complaints(request: Request) -> Response:
    """Admins answer members' complaints; auditors read them."""
    ctx = page_ctx(request)
    require(ctx, Role.ADMIN, Role.AUDITOR)
    return staff_complaints_page(ctx)


@router.post("/staff/complaints/{complaint_id:int}/answer")
def answer_complaint(request: Request, complaint_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.ADMIN)
    form = form_data(request)
    try:
        with ctx.platform.session() as s:
            complaints.answer_complaint(s, actor=s.get(Account, account.id), complaint_id=complaint_id,
                                        answer=field(form, "answer"), now=ctx.now)
    except DomainError as exc:
        return staff_complaints_page(ctx, status_code=exc.status_code, error=domain_message(ctx, exc))
    return redirect(ctx, "/staff/complaints")
