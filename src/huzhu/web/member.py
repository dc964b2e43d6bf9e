"""Accounts and members: register, log in/out, family members, joining, money in and out, coverage,
deductions, claims with evidence, and objections to cases in notice."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, Response

from huzhu.accounts import service as accounts
from huzhu.accounts.models import Account, Role
from huzhu.apportionment.forecast import ExpectedShare, member_outlook
from huzhu.apportionment.service import member_share_proof
from huzhu.casework import service as casework
from huzhu.claims import evidence as evidence_rules
from huzhu.claims import service as claims
from huzhu.claims.evidence import StagedFile
from huzhu.claims.models import Claim, ClaimEvent, Evidence, EvidenceKind, InvestigationReport
from huzhu.claims.service import TIMELINE_NOTES
from huzhu.clock import business_date
from huzhu.complaints import service as complaints
from huzhu.complaints.models import ComplaintTopic
from huzhu.errors import DomainError, InvalidInput, NotEligible
from huzhu.failpoints import failpoint
from huzhu.http.login import end_session, log_in, start_web_session
from huzhu.http.security import clear_session_cookie, set_session_cookie
from huzhu.identity import parse_resident_id
from huzhu.ledger.models import Entry, LedgerAccount, Transfer
from huzhu.members import service as members
from huzhu.members.models import Enrollment, EnrollmentEvent, EnrollmentStatus, Member, Relationship
from huzhu.money import parse_yuan
from huzhu.notices import service as notices
from huzhu.notices.models import Case, Objection
from huzhu.plans.rules import Fact, Ineligible, Problem, age_on, check_eligibility, facts_to_give
from huzhu.receipts import receipt_of, receipt_pdf
from huzhu.transparency.merkle import ProofError, leaf_hash, verify_inclusion
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
from huzhu.web.public import benefit_name, case_or_404, case_view, plan_name
from huzhu.web.rendering import environment
from huzhu.web.words import label, message_text, word

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def evidence_kind_labels(ctx: Ctx) -> dict[str, str]:
    """Every kind of document, labelled in the page's language (the same list the API accepts)."""
    return {kind.value: label(ctx.locale, kind) for kind in EvidenceKind}


def field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# ---------------------------------------------------------------- register, log in, log out


@router.get("/register")
def register_form(request: Request) -> Response:
    ctx = page_ctx(request)
    return render(ctx, "member/register.html", form={}, error="")


@router.post("/register")
def register(request: Request) -> Response:
    ctx = page_ctx(request)
    form = form_data(request)
    values = {k: field(form, k) for k in ("login", "display_name")}
    typed = form.get("password")
    password = typed if isinstance(typed, str) else ""
    try:
        if len(password) < 8:
            raise InvalidInput(PageError.PASSWORD_SHORT)
        if password != form.get("password2"):
            raise InvalidInput(PageError.PASSWORDS_DIFFER)
        with ctx.platform.session() as s:
            account = accounts.register_account(s, login=values["login"], password=password,
                                               display_name=values["display_name"], now=ctx.now)
            account_id = account.id
    except DomainError as exc:
        return render(ctx, "member/register.html", status_code=exc.status_code, form=values,
                      error=domain_message(ctx, exc))
    return signed_in(ctx, account_id, "/me")


@router.get("/login")
def login_form(request: Request) -> Response:
    ctx = page_ctx(request)
    return render(ctx, "member/login.html", login="", error="", next=safe_next(request.query_params.get("next")),
                  challenge=None)


def safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//"):
        return ""
    return target


@router.post("/login")
def login(request: Request) -> Response:
    ctx = page_ctx(request)
    form = form_data(request)
    login_value = field(form, "login")
    typed = form.get("password")
    password = typed if isinstance(typed, str) else ""
    target = safe_next(field(form, "next"))
    try:
        signed = log_in(ctx.platform, login=login_value, password=password,
                        client_ip=request.client.host if request.client else None,
                        challenge=field(form, "challenge") or None, solution=field(form, "solution") or None)
        account_id, role = signed.account_id, signed.role
    except DomainError as exc:
        # After failed attempts for this login the page carries a challenge: its script solves it
        # (a second or two) and the login goes through with the password typed again.
        issued = exc.challenge if isinstance(exc, accounts.ChallengeRequired) else None
        return render(ctx, "member/login.html", status_code=exc.status_code, login=login_value,
                      error=domain_message(ctx, exc), next=target, challenge=issued)
    home = "/me" if role == Role.MEMBER else "/staff"
    return signed_in(ctx, account_id, target or home)


def signed_in(ctx: Ctx, account_id: int, target: str) -> Response:
    """A new web session (12 h by the wall clock, ended on the server by logging out) in its cookie."""
    cookie = start_web_session(ctx.platform, account_id)
    response = redirect(ctx, target)
    set_session_cookie(response, cookie.value, ctx.platform.settings, max_age=cookie.max_age)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session on the server (the cookie stops working everywhere it was copied), then forget it."""
    ctx = page_ctx(request)
    if ctx.session_id is not None:
        end_session(ctx.platform, ctx.session_id)
    response = redirect(ctx, "/")
    clear_session_cookie(response, ctx.platform.settings)
    return response


# ---------------------------------------------------------------- dashboard


def enrollment_view(ctx: Ctx, s: Session, enrollment: Enrollment) -> dict[str, Any]:
    plan = ctx.platform.plans.get(enrollment.plan_code)
    status = members.coverage_status(plan, enrollment, today=business_date(ctx.now)) if plan else {
        "state": members.coverage_state(enrollment, False), "benefits": []}
    waiting_until = min((b["in_force_from"] for b in status["benefits"] if not b["in_force"]), default=None)
    reason = ""
    if enrollment.status == EnrollmentStatus.SUSPENDED:
        event = s.scalar(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == enrollment.id)
                         .order_by(EnrollmentEvent.occurred_at.desc(), EnrollmentEvent.id.desc()).limit(1))
        reason = ctx._(event.reason) if event else ""  # the engine's reasons are catalog entries
    today = business_date(ctx.now)
    benefits = [{**b, "name": b["name_zh"] if ctx.is_zh else b["name_en"],
                 "from": date.fromisoformat(b["in_force_from"]),
                 "days_left": (date.fromisoformat(b["in_force_from"]) - today).days} for b in status["benefits"]]
    until = date.fromisoformat(waiting_until) if waiting_until else None
    return {"e": enrollment, "plan_name": plan_name(ctx, ctx.platform.plans, enrollment.plan_code),
            "state": status["state"], "benefits": benefits, "reason": reason, "waiting_until": until,
            "days_left": (until - business_date(ctx.now)).days if until else None,
            "min_balance": plan.min_balance_fen if plan else 0}


def member_view(ctx: Ctx, s: Session, member: Member) -> dict[str, Any]:
    balance = s.get(LedgerAccount, member.ledger_account_id)
    enrollments = list(s.scalars(select(Enrollment).where(Enrollment.member_id == member.id)
                                 .order_by(Enrollment.id)))
    return {"m": member, "masked_id": member.id_number_masked,
            "age": age_on(member.birth_date, business_date(ctx.now)),
            "balance": balance.available if balance else 0,
            "enrollments": [enrollment_view(ctx, s, e) for e in enrollments]}


def deductions(s: Session, member: Member) -> list[dict[str, Any]]:
    """Every share taken from the member's balance, with its case."""
    rows = s.execute(
        select(Entry.amount, Transfer.created_at, Case.case_no, Case.masked_name, Case.amount_fen, Transfer.run_id)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .join(Case, Case.id == Transfer.case_id)
        .where(Entry.account_id == member.ledger_account_id, Entry.direction == 1, Transfer.kind == "share")
        .order_by(Transfer.id.desc())
    ).all()
    return [{"amount": r[0], "at": r[1], "case_no": r[2], "masked_name": r[3], "case_amount": r[4]} for r in rows]


def history(s: Session, member: Member) -> list[dict[str, Any]]:
    rows = s.execute(
        select(Entry.direction, Entry.amount, Transfer.kind, Transfer.created_at, Transfer.memo, Transfer.status,
               Transfer.case_id)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .where(Entry.account_id == member.ledger_account_id)
        .order_by(Transfer.id.desc()).limit(200)
    ).all()
    return [{"in": r[0] == -1, "amount": r[1], "kind": r[2], "at": r[3], "memo": r[4], "status": r[5]} for r in rows]


@router.get("/me")
def dashboard(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        people = [member_view(ctx, s, m) for m in s.scalars(
            select(Member).where(Member.account_id == account.id).order_by(Member.id))]
        claim_rows = s.execute(select(Claim, Member.name).join(Member, Member.id == Claim.member_id)
                               .where(Member.account_id == account.id).order_by(Claim.id.desc())).all()
        my_claims = [{"c": c, "name": name, "benefit": benefit_name(ctx, ctx.platform.plans, c.plan_code,
                                                                     c.benefit_code)} for c, name in claim_rows]
        taken = []
        forecasts: dict[str, ExpectedShare] = {}
        for person in people:
            for d in deductions(s, person["m"]):
                taken.append({**d, "member": person["m"].name})
            person["outlook"] = member_outlook(s, member=person["m"], plans=ctx.platform.plans, now=ctx.now,
                                               expected=forecasts)
        objections = [{"o": o, "v": case_view(ctx, c), "note": word(ctx.locale, casework.resolution_note(
            o.resolution_note)) if o.resolution_note else ""}
            for o, c in notices.objections_of_account(s, account=account)]
    taken.sort(key=lambda d: d["at"], reverse=True)
    return render(ctx, "member/dashboard.html", people=people, claims=my_claims, deductions=taken,
                  objections=objections, flash=request.query_params.get("done", ""))


@router.get("/me/members/{member_id:int}")
def member_page(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        member = members.own_member(s, actor=account, member_id=member_id)
        view = member_view(ctx, s, member)
        moves = history(s, member)
        taken = deductions(s, member)
    return render(ctx, "member/member.html", v=view, moves=moves, deductions=taken)


# ---------------------------------------------------------------- family members


@router.get("/me/members/new")
def add_member_form(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, Role.MEMBER)
    return render(ctx, "member/add_member.html", form={}, error="")


@router.post("/me/validate-id")
def validate_id(request: Request) -> Response:
    """HTMX: check an ID number as it is typed; answers a small fragment (never stores anything)."""
    ctx = page_ctx(request)
    require(ctx, Role.MEMBER)
    form = form_data(request)
    text = field(form, "id_number")
    env = environment(ctx.locale)
    if not text:
        return finish(ctx, HTMLResponse(""))
    try:
        resident = parse_resident_id(text, today=business_date(ctx.now))
        html = env.get_template("member/_id_check.html").render(
            ok=True, birth=resident.birth_date, age=age_on(resident.birth_date, business_date(ctx.now)),
            gender=resident.gender, province=resident.province_zh if ctx.is_zh else resident.province_en)
    except DomainError as exc:
        html = env.get_template("member/_id_check.html").render(ok=False, message=domain_message(ctx, exc))
    return finish(ctx, HTMLResponse(html))


@router.post("/me/members/new")
def add_member(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    values = {k: field(form, k) for k in ("name", "id_number", "relationship")}
    try:
        with ctx.platform.session() as s:
            member = members.add_member(s, account_id=account.id, name=values["name"], id_number=values["id_number"],
                                        relationship=values["relationship"] or Relationship.SELF, now=ctx.now)
            member_id = member.id
    except DomainError as exc:
        return render(ctx, "member/add_member.html", status_code=exc.status_code, form=values,
                      error=domain_message(ctx, exc))
    return redirect(ctx, f"/me/members/{member_id}/join?added=1")


# ---------------------------------------------------------------- joining a plan


def eligibility_reasons(ctx: Ctx, problems: list[Problem]) -> list[str]:
    """Each reason in the page's language; the health questions' own codes are not for members'
    eyes, so a refused declaration reads as one plain sentence."""
    out = []
    for p in problems:
        if p.text in (Ineligible.HEALTH_FAILED, Ineligible.HEALTH_MISSING):
            out.append(ctx._("This plan covers critical illness, so every health question must be answered “no”."))
        else:
            out.append(message_text(ctx.locale, p.text, p.params))
    return out


@router.get("/me/members/{member_id:int}/join")
def join_form(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        member = members.own_member(s, actor=account, member_id=member_id)
        view = member_view(ctx, s, member)
    return render(ctx, "member/join.html", v=view, plans=list(ctx.platform.plans.values()), error="", reasons=[],
                  chosen=request.query_params.get("plan", ""), added=request.query_params.get("added"))


@router.post("/me/members/{member_id:int}/join")
def join(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    plan_code = field(form, "plan")
    plan = ctx.platform.plans.get(plan_code)
    answers = None
    if plan is not None and plan.eligibility.health_questions:
        answers = {q.code: field(form, f"health_{q.code}") != "no" for q in plan.eligibility.health_questions
                   if field(form, f"health_{q.code}")}
    reasons: list[str] = []
    try:
        with ctx.platform.session() as s:
            member = members.own_member(s, actor=account, member_id=member_id)
            if plan is None:
                raise InvalidInput(PageError.CHOOSE_PLAN)
            problems = check_eligibility(plan, birth_date=member.birth_date, on=business_date(ctx.now),
                                         health_answers=answers)
            if problems:
                reasons = eligibility_reasons(ctx, problems)
            members.join_plan(s, ctx.platform.custodian, plans=ctx.platform.plans, member=member, plan_code=plan_code,
                              now=ctx.now, health_answers=answers,
                              idempotency_key=field(form, "idempotency_key") or f"web-join-{uuid.uuid4().hex}")
            failpoint("web.join.before_commit")
        failpoint("web.join.after_commit")
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            view = member_view(ctx, s, members.own_member(s, actor=account, member_id=member_id))
        error = ctx._("Not eligible to join this plan.") if isinstance(exc, NotEligible) else domain_message(ctx, exc)
        return render(ctx, "member/join.html", status_code=exc.status_code, v=view,
                      plans=list(ctx.platform.plans.values()), error=error, reasons=reasons, chosen=plan_code,
                      added=None)
    return redirect(ctx, "/me?done=joined")


# ---------------------------------------------------------------- money in and out


def money_page(ctx: Ctx, account: Account, member_id: int, kind: str, *, status_code: int = 200, error: str = "",
               amount: str = "", key: str | None = None) -> Response:
    """The top-up or withdrawal form, fresh or re-shown with the engine's message."""
    with ctx.platform.read_factory() as s:
        view = member_view(ctx, s, members.own_member(s, actor=account, member_id=member_id))
    return render(ctx, "member/money.html", status_code=status_code, v=view, kind=kind, error=error, amount=amount,
                  key=key or uuid.uuid4().hex)


@router.get("/me/members/{member_id:int}/top-up")
def top_up_form(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    return money_page(ctx, require(ctx, Role.MEMBER), member_id, "top-up")


def money_post(request: Request, member_id: int, kind: str, move: Callable[..., object]) -> Response:
    """Top up or withdraw: run ``move`` in one unit of work, or re-show the form with the reason."""
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    amount = field(form, "amount")
    key = field(form, "idempotency_key") or uuid.uuid4().hex
    try:
        with ctx.platform.session() as s:
            member = members.own_member(s, actor=account, member_id=member_id)
            move(s, ctx, member, form, parse_yuan(amount), f"web-{kind}-{key}")
            failpoint(f"web.{kind}.before_commit")
        failpoint(f"web.{kind}.after_commit")
    except DomainError as exc:
        return money_page(ctx, account, member_id, kind, status_code=exc.status_code,
                          error=domain_message(ctx, exc), amount=amount, key=key)
    return redirect(ctx, "/me?done=" + ("topped-up" if kind == "top-up" else "withdrawn"))


@router.post("/me/members/{member_id:int}/top-up")
def top_up(request: Request, member_id: int) -> Response:
    def move(s: Session, ctx: Ctx, member: Member, _form: Any, amount_fen: int, key: str) -> None:
        members.top_up(s, ctx.platform.custodian, plans=ctx.platform.plans, member=member, amount_fen=amount_fen,
                       now=ctx.now, idempotency_key=key)

    return money_post(request, member_id, "top-up", move)


@router.get("/me/members/{member_id:int}/withdraw")
def withdraw_form(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    return money_page(ctx, require(ctx, Role.MEMBER), member_id, "withdraw")


@router.post("/me/members/{member_id:int}/withdraw")
def withdraw(request: Request, member_id: int) -> Response:
    def move(s: Session, ctx: Ctx, member: Member, form: Any, amount_fen: int, key: str) -> None:
        members.withdraw(s, ctx.platform.custodian, plans=ctx.platform.plans, member=member, amount_fen=amount_fen,
                         bank_account=field(form, "bank_account"), now=ctx.now, idempotency_key=key)

    return money_post(request, member_id, "withdraw", move)


@router.get("/me/members/{member_id:int}/leave/{enrollment_id:int}")
def leave_form(request: Request, member_id: int, enrollment_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        view = member_view(ctx, s, members.own_member(s, actor=account, member_id=member_id))
        enrollment = members.own_enrollment(s, actor=account, enrollment_id=enrollment_id, member_id=member_id)
        ev = enrollment_view(ctx, s, enrollment)
    return render(ctx, "member/leave.html", v=view, ev=ev, last=_is_last_plan(view, enrollment_id), error="",
                  key=uuid.uuid4().hex)


@router.post("/me/members/{member_id:int}/leave/{enrollment_id:int}")
def leave(request: Request, member_id: int, enrollment_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    key = field(form, "idempotency_key") or uuid.uuid4().hex
    try:
        with ctx.platform.session() as s:
            enrollment = members.own_enrollment(s, actor=account, enrollment_id=enrollment_id, member_id=member_id)
            members.leave_plan(s, ctx.platform.custodian, plans=ctx.platform.plans, enrollment=enrollment,
                               bank_account=field(form, "bank_account") or None, now=ctx.now,
                               idempotency_key=f"web-leave-{key}")
            failpoint("web.leave.before_commit")
        failpoint("web.leave.after_commit")
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            view = member_view(ctx, s, members.own_member(s, actor=account, member_id=member_id))
            ev = enrollment_view(ctx, s, members.own_enrollment(s, actor=account, enrollment_id=enrollment_id, member_id=member_id))
        return render(ctx, "member/leave.html", status_code=exc.status_code, v=view, ev=ev,
                      last=_is_last_plan(view, enrollment_id), error=domain_message(ctx, exc), key=key)
    return redirect(ctx, "/me?done=left")


def _is_last_plan(view: dict[str, Any], enrollment_id: int) -> bool:
    return not any(ev["e"].status != EnrollmentStatus.LEFT and ev["e"].id != enrollment_id for ev in view["enrollments"])


@router.get("/me/members/{member_id:int}/proof/{case_no}")
def share_proof(request: Request, member_id: int, case_no: str) -> Response:
    """The member's share of a case with an RFC 9162 inclusion proof against the published root."""
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        member = members.own_member(s, actor=account, member_id=member_id)
        case = s.scalar(select(Case).where(Case.case_no == case_no))
        proof = member_share_proof(s, case=case, member_id=member.id) if case is not None else None
    if proof is None:
        raise PageNotFound()
    try:
        verify_inclusion(leaf_hash(proof["leaf"].encode()), proof["leaf_index"], proof["tree_size"],
                         [bytes.fromhex(h) for h in proof["proof"]], bytes.fromhex(proof["published_root"] or ""))
        verified = True
    except (ProofError, ValueError):
        verified = False
    return render(ctx, "member/proof.html", m=member, p=proof, verified=verified)


# ---------------------------------------------------------------- claims and evidence


# The claim form's field for each fact a claimant gives (``plans.rules.facts_to_give``).
FACT_FIELDS = {Fact.DISABILITY_GRADES: "disability_grades", Fact.LOSS: "loss",
               Fact.FAULT_SHARE: "fault_share_percent", Fact.INSURANCE_PAID: "insurance_paid"}


def claim_choices(ctx: Ctx, s: Session, account: Account) -> list[dict[str, Any]]:
    """Per member in a plan, each aid they can claim: its value, the facts and the documents it needs."""
    people: dict[int, dict[str, Any]] = {}
    for member, enrollment in s.execute(
        select(Member, Enrollment).join(Enrollment, Enrollment.member_id == Member.id)
        .where(Member.account_id == account.id, Enrollment.status != EnrollmentStatus.LEFT).order_by(Member.id, Enrollment.id)
    ):
        plan = ctx.platform.plans.get(enrollment.plan_code)
        if plan is None:
            continue
        person = people.setdefault(member.id, {"name": member.name, "id": member.id, "options": []})
        for b in plan.benefits:
            person["options"].append({
                "value": f"{member.id}:{plan.code}:{b.code}",
                "plan": plan.name_zh if ctx.is_zh else plan.name_en, "benefit": b.name_zh if ctx.is_zh else b.name_en,
                "facts": [FACT_FIELDS[f] for f in facts_to_give(b)],
                "documents": [label(ctx.locale, EvidenceKind(kind)) for kind in b.documents]})
    return list(people.values())


def fact_choices(choices: list[dict[str, Any]]) -> dict[str, str]:
    """Each fact field → the choices that need it (space-separated, for ``data-for``)."""
    needs: dict[str, list[str]] = {name: [] for name in FACT_FIELDS.values()}
    for person in choices:
        for option in person["options"]:
            for name in option["facts"]:
                needs[name].append(option["value"])
    return {name: " ".join(values) for name, values in needs.items()}


def claim_form_page(ctx: Ctx, account: Account, *, status_code: int = 200, form: dict[str, Any] | None = None,
                    error: str = "", dropped: list[str] | None = None) -> Response:
    with ctx.platform.read_factory() as s:
        choices = claim_choices(ctx, s, account)
    return render(ctx, "member/claim_new.html", status_code=status_code, evidence_kinds=evidence_kind_labels(ctx),
                  choices=choices, needs=fact_choices(choices), form=form or {}, error=error, dropped=dropped or [],
                  rows=range(1, ctx.platform.settings.max_upload_files + 1))


@router.get("/me/claims/new")
def claim_form(request: Request) -> Response:
    ctx = page_ctx(request)
    return claim_form_page(ctx, require(ctx, Role.MEMBER))


def facts_from_form(form: Any, wanted: tuple[str, ...] = tuple(FACT_FIELDS.values())) -> dict[str, Any]:
    """The facts the form gives, of those ``wanted`` (a claim: the ones its benefit needs)."""
    facts: dict[str, Any] = {}
    grades = field(form, "disability_grades") if "disability_grades" in wanted else ""
    if grades:
        try:
            facts["disability_grades"] = [int(g) for g in grades.replace("，", ",").split(",") if g.strip()]
        except ValueError:
            raise InvalidInput(PageError.GRADES_FORMAT) from None
    for key in ("loss", "fault_share_percent", "insurance_paid"):
        if key in wanted and field(form, key):
            facts[key] = field(form, key)
    return facts


def parse_day(text: str, refusal: PageError) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(refusal) from None


@router.post("/me/claims/new")
def file_claim(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    values: dict[str, Any] = {k: field(form, k) for k in (
        "choice", "incident_date", "incident_place", "description", "beneficiary_name", "beneficiary_account",
        "disability_grades", "loss", "fault_share_percent", "insurance_paid")}
    values["kinds"] = {i: field(form, f"evidence_kind_{i}") for i in range(1, ctx.platform.settings.max_upload_files + 1)}
    try:
        member_id, plan_code, benefit_code = (values["choice"].split(":") + ["", "", ""])[:3]
        if not member_id.isdigit():
            raise InvalidInput(PageError.CHOOSE_CLAIM)
        plan = ctx.platform.plans.get(plan_code)
        benefit = plan.benefit(benefit_code) if plan else None
        wanted = tuple(FACT_FIELDS[f] for f in facts_to_give(benefit)) if benefit else ()
        with staged_uploads(ctx, form) as uploads, ctx.platform.session() as s:
            owner = s.get(Account, account.id)
            claim = claims.file_claim(
                s, plans=ctx.platform.plans, actor=owner, member_id=int(member_id), plan_code=plan_code,
                benefit_code=benefit_code, incident_date=parse_day(values["incident_date"], PageError.INCIDENT_DATE),
                now=ctx.now, beneficiary_name=values["beneficiary_name"],
                beneficiary_account=values["beneficiary_account"], incident_place=values["incident_place"],
                description=values["description"], facts=facts_from_form(form, wanted))
            for kind, staged in uploads:
                evidence_rules.add_evidence(s, ctx.platform.evidence, actor=owner, claim=claim, staged=staged,
                                            kind=kind, now=ctx.now)
            claim_id = claim.id
    except DomainError as exc:
        # Nothing was saved, the chosen files neither: the page says so, by name, so they are chosen again.
        return claim_form_page(ctx, account, status_code=exc.status_code, form=values,
                               error=domain_message(ctx, exc), dropped=chosen_files(form))
    return redirect(ctx, f"/me/claims/{claim_id}?filed=1")


def chosen_files(form: Any) -> list[str]:
    return [upload.filename for name, upload in form.multi_items()
            if name.startswith("evidence") and isinstance(upload, UploadFile) and upload.filename]


@contextmanager
def staged_uploads(ctx: Ctx, form: Any) -> Iterator[list[tuple[str, StagedFile]]]:
    """Every uploaded file, each with its own kind of document (``evidence_<n>`` with
    ``evidence_kind_<n>``), checked (size, signature) before anything is written; files not kept by
    the time the block ends are discarded."""
    store = ctx.platform.evidence
    staged: list[tuple[str, StagedFile]] = []
    try:
        for n in range(1, ctx.platform.settings.max_upload_files + 1):
            upload = form.get(f"evidence_{n}")
            if isinstance(upload, UploadFile) and upload.filename:
                kind = field(form, f"evidence_kind_{n}") or EvidenceKind.OTHER.value
                staged.append((kind, store.stage(upload.file, upload.filename)))
        yield staged
    finally:
        for _kind, file in staged:
            store.discard(file)


def _note_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"%\((\w+)\)s", template)  # literal, name, literal, name, …, literal
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*)" for i, p in enumerate(parts)) + r"\Z",
                      re.S)


NOTE_PATTERNS = [(template, _note_pattern(template)) for template in TIMELINE_NOTES]


def timeline_note(ctx: Ctx, note: str) -> str:
    """A stored (English) timeline note in the reader's language, its values kept as written."""
    for template, pattern in NOTE_PATTERNS:
        found = pattern.match(note or "")
        if found:
            return ctx._(template, **found.groupdict()) if found.groupdict() else ctx._(template)
    return note or ""


def claim_details(ctx: Ctx, s: Session, claim: Claim) -> dict[str, Any]:
    events = list(s.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id)
                            .order_by(ClaimEvent.occurred_at, ClaimEvent.id)))
    evidence = list(s.scalars(select(Evidence).where(Evidence.claim_id == claim.id).order_by(Evidence.id)))
    report = s.scalar(select(InvestigationReport).where(InvestigationReport.claim_id == claim.id)
                      .order_by(InvestigationReport.id.desc()).limit(1))
    case = s.scalar(select(Case).where(Case.claim_id == claim.id).order_by(Case.id.desc()).limit(1))
    member = s.get(Member, claim.member_id)
    reason = casework.decision_reason(claim.decision_reason)
    journey = casework.claim_journey(s, claim=claim, now=ctx.now)
    return {"c": claim, "events": events, "notes": {e.id: timeline_note(ctx, e.note) for e in events},
            "journey": journey,
            "resolution_notes": {o.id: word(ctx.locale, casework.resolution_note(o.resolution_note))
                                 for o in journey.objections if o.resolution_note},
            "decision_reason": word(ctx.locale, reason) if reason else "",
            "evidence_kinds": evidence_kind_labels(ctx),
            "evidence": evidence, "report": report, "case": case, "member": member,
            "plan_name": plan_name(ctx, ctx.platform.plans, claim.plan_code),
            "benefit_name": benefit_name(ctx, ctx.platform.plans, claim.plan_code, claim.benefit_code)}


@router.get("/me/claims/{claim_id:int}")
def claim_page(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        details = claim_details(ctx, s, claims.claim_for_reading(s, actor=account, claim_id=claim_id))
    return render(ctx, "member/claim.html", d=details, error="", filed=request.query_params.get("filed"))


@router.get("/me/claims/{claim_id:int}/receipt.pdf")
def claim_receipt(request: Request, claim_id: int) -> Response:
    """The beneficiary's payout receipt (PDF, Chinese with English beside), once the bank has paid."""
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        claim = claims.claim_for_reading(s, actor=account, claim_id=claim_id)
        receipt = receipt_of(s, plans=ctx.platform.plans, claim=claim, now=ctx.now)
    if receipt is None:
        raise PageNotFound()
    body = receipt_pdf(receipt)
    return finish(ctx, Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="huzhu-receipt-{receipt.case_no}.pdf"'}))


@router.post("/me/claims/{claim_id:int}/evidence")
def add_evidence(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    try:
        with staged_uploads(ctx, form) as uploads, ctx.platform.session() as s:
            if not uploads:
                raise InvalidInput(PageError.CHOOSE_FILE)
            claim = claims.claim_for_reading(s, actor=account, claim_id=claim_id)
            owner = s.get(Account, account.id)
            for kind, staged in uploads:
                evidence_rules.add_evidence(s, ctx.platform.evidence, actor=owner, claim=claim, staged=staged,
                                            kind=kind, now=ctx.now)
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            details = claim_details(ctx, s, claims.claim_for_reading(s, actor=account, claim_id=claim_id))
        return render(ctx, "member/claim.html", status_code=exc.status_code, d=details,
                      error=domain_message(ctx, exc), filed=None)
    return redirect(ctx, f"/me/claims/{claim_id}")


# ---------------------------------------------------------------- objections


def objection_page(ctx: Ctx, account: Account, case_no: str, *, status_code: int = 200, error: str = "",
                   reason: str = "") -> Response:
    """The objection form for the members who may still object; the account's objections with their outcome."""
    with ctx.platform.read_factory() as s:
        case = case_or_404(s, case_no)
        people = notices.possible_objectors(s, account=account, case=case)
        mine = [{"o": o, "note": word(ctx.locale, casework.resolution_note(o.resolution_note))
                 if o.resolution_note else ""}
                for o in s.scalars(select(Objection).where(Objection.case_id == case.id,
                                                           Objection.account_id == account.id).order_by(Objection.id))]
        in_plan = s.scalar(select(Enrollment.id).join(Member, Member.id == Enrollment.member_id).where(
            Member.account_id == account.id, Enrollment.status != EnrollmentStatus.LEFT).limit(1)) is not None
    return render(ctx, "member/object.html", status_code=status_code, v=case_view(ctx, case), people=people,
                  mine=mine, in_plan=in_plan, error=error, reason=reason)


@router.get("/cases/{case_no}/object")
def objection_form(request: Request, case_no: str) -> Response:
    ctx = page_ctx(request)
    return objection_page(ctx, require(ctx, Role.MEMBER), case_no)


@router.post("/cases/{case_no}/object")
def file_objection(request: Request, case_no: str) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    reason = field(form, "reason")
    member_id = field(form, "member_id")
    try:
        with ctx.platform.session() as s:
            case = case_or_404(s, case_no)
            if not member_id.isdigit():
                raise InvalidInput(PageError.CHOOSE_OBJECTOR)
            notices.file_objection(s, actor=s.get(Account, account.id), case_id=case.id, member_id=int(member_id),
                                   reason=reason, now=ctx.now)
    except DomainError as exc:
        return objection_page(ctx, account, case_no, status_code=exc.status_code, error=domain_message(ctx, exc),
                              reason=reason)
    return redirect(ctx, f"/cases/{case_no}/object?done=1")


# ---------------------------------------------------------------- complaints


def complaints_page(ctx: Ctx, account: Account, *, status_code: int = 200, error: str = "",
                    form: dict[str, str] | None = None) -> Response:
    with ctx.platform.read_factory() as s:
        mine = complaints.complaints_of(s, actor=account)
    return render(ctx, "member/complaints.html", status_code=status_code, complaints=mine, error=error,
                  form=form or {}, topics=list(ComplaintTopic), done=ctx.request.query_params.get("done", ""))


@router.get("/me/complaints")
def complaints_list(request: Request) -> Response:
    ctx = page_ctx(request)
    return complaints_page(ctx, require(ctx, Role.MEMBER))


@router.post("/me/complaints")
def file_complaint(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    values = {k: field(form, k) for k in ("topic", "subject", "body")}
    try:
        with ctx.platform.session() as s:
            complaint = complaints.file_complaint(s, actor=s.get(Account, account.id), topic=values["topic"],
                                                  subject=values["subject"], body=values["body"], now=ctx.now)
            number = complaint.complaint_no
    except DomainError as exc:
        return complaints_page(ctx, account, status_code=exc.status_code, error=domain_message(ctx, exc), form=values)
    return redirect(ctx, f"/me/complaints?done={number}")


@router.post("/me/complaints/{complaint_id:int}/close")
def close_complaint(request: Request, complaint_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    try:
        with ctx.platform.session() as s:
            complaints.close_complaint(s, actor=s.get(Account, account.id), complaint_id=complaint_id, now=ctx.now)
    except DomainError as exc:
        return complaints_page(ctx, account, status_code=exc.status_code, error=domain_message(ctx, exc))
    return redirect(ctx, "/me/complaints")
