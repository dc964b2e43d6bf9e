"""Pages of the custodian bank: the member's bank reference (and, in the sandbox, "pay as your bank"),
and the staff's custody exceptions queue with four eyes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from huzhu.accounts.models import Account, Role
from huzhu.banking import exceptions as queue
from huzhu.banking.sync import open_reference_for, pull_notifications, reference_of
from huzhu.banking.winddown import notices_of
from huzhu.custody.bank_client import BankError
from huzhu.custody.errors import BankUnavailable, CustodyError
from huzhu.errors import Conflict, DomainError, InvalidInput
from huzhu.members import service as members
from huzhu.money import format_yuan, parse_yuan
from huzhu.web.core import (
    Ctx,
    PageError,
    WebRoute,
    domain_message,
    form_data,
    page_ctx,
    redirect,
    render,
    require,
)
from huzhu.web.i18n import N_, gettext

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SANDBOX_PAYER_ACCOUNT = "6222020200000000001"
KIND_LABELS = {
    "unknown_reference": N_("Credit with an unknown reference"),
    "unmatched_line": N_("Statement line without a booking"),
    "duplicate_statement": N_("Statement received twice"),
    "sequence_gap": N_("Missing statements"),
    "amount_mismatch": N_("Amount or date differs"),
    "returned_payment": N_("Payment returned by the payee's bank"),
    "malformed_message": N_("Message refused"),
}
RESOLUTION_LABELS = {
    "book_to_member": N_("Book to the member"),
    "reinstruct": N_("Pay again to a corrected account"),
    "acknowledge": N_("Acknowledge (dealt with)"),
}


def _field(form: object, name: str) -> str:
    value = form.get(name)  # type: ignore[attr-defined]
    return value.strip() if isinstance(value, str) else ""


def _t(ctx: Ctx, text: str) -> str:
    return gettext(ctx.locale, text)


# ---------------------------------------------------------------- the member's bank reference


def bank_page(ctx: Ctx, account: Account, member_id: int, *, status_code: int = 200, error: str = "",
              done: str = "") -> Response:
    bank = ctx.platform.bank
    with ctx.platform.read_factory() as s:
        member = members.own_member(s, actor=account, member_id=member_id)
        ref = reference_of(s, member.id)
        balance = members.balance_of(s, member).available
        name = member.name
        told = [{"at": n.created_at, "text": n.text} for n in notices_of(s, member.id)]
    # A GET only shows: the virtual sub-account is opened by the form below (POST …/bank/open) or by
    # the next custodian sync.
    return render(ctx, "member/bank.html", status_code=status_code, member_id=member_id, name=name, ref=ref,
                  balance=balance, bank_configured=bank is not None, notices=told,
                  can_pay_as_bank=bank is not None and bank.sandbox is not None and ctx.platform.settings.sandbox,
                  pool_account=getattr(ctx.platform.custodian, "account_number", ""), error=error, done=done,
                  key=uuid.uuid4().hex)


@router.get("/me/members/{member_id:int}/bank")
def member_bank(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    return bank_page(ctx, account, member_id, done=request.query_params.get("done", ""))


@router.post("/me/members/{member_id:int}/bank/open")
def open_virtual_account(request: Request, member_id: int) -> Response:
    """Open the member's virtual sub-account at the custodian bank (idempotent: a second post finds it open)."""
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    bank = ctx.platform.bank
    try:
        if bank is None:
            raise Conflict(CustodyError.NO_BANK)
        with ctx.platform.read_factory() as s:
            member = members.own_member(s, actor=account, member_id=member_id)
        open_reference_for(ctx.platform.factory, bank.connector, member_id=member.id, now=ctx.now)
    except DomainError as exc:
        return bank_page(ctx, account, member_id, status_code=exc.status_code, error=domain_message(ctx, exc))
    except BankError:
        return bank_page(ctx, account, member_id, status_code=503,
                         error=domain_message(ctx, BankUnavailable(CustodyError.BANK_UNREACHABLE)))
    return redirect(ctx, f"/me/members/{member_id}/bank?done=opened")


@router.post("/me/members/{member_id:int}/bank/pay")
def pay_as_bank(request: Request, member_id: int) -> Response:
    """Sandbox: the member's bank pays the pool account quoting the member's virtual account; the
    deposit is then booked from the bank's camt.054, as any other."""
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    form = form_data(request)
    bank = ctx.platform.bank
    try:
        if bank is None or bank.sandbox is None or not ctx.platform.settings.sandbox:
            raise InvalidInput(PageError.SANDBOX_BANK_ONLY)
        amount_fen = parse_yuan(_field(form, "amount"))
        key = _field(form, "idempotency_key") or uuid.uuid4().hex
        with ctx.platform.read_factory() as s:
            member = members.own_member(s, actor=account, member_id=member_id)
            ref = reference_of(s, member.id)
            payer = member.name
        if ref is None or ref.virtual_account is None:
            raise InvalidInput(PageError.VIRTUAL_ACCOUNT_PENDING)
        bank.sandbox.incoming_transfer(amount=format_yuan(amount_fen), reference=ref.virtual_account,
                                       payer_name=payer[:140], payer_account=SANDBOX_PAYER_ACCOUNT,
                                       end_to_end_id=f"SBX{key[:30]}")
        pull_notifications(ctx.platform.factory, bank.connector, now=ctx.now, plans=ctx.platform.plans)
    except DomainError as exc:
        return bank_page(ctx, account, member_id, status_code=exc.status_code, error=domain_message(ctx, exc))
    except BankError as exc:
        return bank_page(ctx, account, member_id, status_code=503, error=str(exc))
    return redirect(ctx, f"/me/members/{member_id}/bank?done=paid")


# ---------------------------------------------------------------- the staff's exceptions queue


def queue_page(ctx: Ctx, *, status_code: int = 200, error: str = "") -> Response:
    show = ctx.request.query_params.get("show", "unresolved")
    with ctx.platform.read_factory() as s:
        rows = queue.list_exceptions(s, status=None if show == "all" else "unresolved")
        items = [{"x": r, "amount": format_yuan(r.amount_fen), "kind": _t(ctx, KIND_LABELS.get(r.kind, r.kind)),
                  "resolution": _t(ctx, RESOLUTION_LABELS[r.resolution]) if r.resolution else "",
                  "choices": [(c, _t(ctx, RESOLUTION_LABELS[c])) for c in queue.allowed_resolutions(r.kind)]}
                 for r in rows]
    account = ctx.account
    return render(ctx, "staff/custody.html", status_code=status_code, items=items, error=error, show=show,
                  can_decide=account is not None and account.role in (Role.ADMIN, Role.REVIEWER))


@router.get("/staff/custody")
def custody_queue(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, Role.ADMIN, Role.REVIEWER, Role.AUDITOR)
    return queue_page(ctx)


def _decide(request: Request, exception_id: int, act: str) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.ADMIN, Role.REVIEWER)
    form = form_data(request)
    try:
        with ctx.platform.session() as s:
            actor = s.get(Account, account.id)
            assert actor is not None
            if act == "propose":
                queue.propose(s, exception_id=exception_id, actor=actor, resolution=_field(form, "resolution"),
                              target=_field(form, "target"), note=_field(form, "note"), now=ctx.now)
            elif act == "approve":
                queue.approve(s, exception_id=exception_id, actor=actor, custodian=ctx.platform.custodian,
                              now=ctx.now, plans=ctx.platform.plans)
            else:
                queue.turn_down(s, exception_id=exception_id, actor=actor, now=ctx.now)
    except DomainError as exc:
        # HTMX swaps only 2xx answers: the refusal is shown in the swapped queue, and stated as a 4xx
        # to a plain form post.
        htmx = request.headers.get("hx-request") == "true"
        return queue_page(ctx, status_code=200 if htmx else exc.status_code, error=domain_message(ctx, exc))
    return redirect(ctx, "/staff/custody")


@router.post("/staff/custody/{exception_id:int}/propose")
def propose(request: Request, exception_id: int) -> Response:
    return _decide(request, exception_id, "propose")


@router.post("/staff/custody/{exception_id:int}/approve")
def approve(request: Request, exception_id: int) -> Response:
    return _decide(request, exception_id, "approve")


@router.post("/staff/custody/{exception_id:int}/turn-down")
def turn_down(request: Request, exception_id: int) -> Response:
    return _decide(request, exception_id, "turn-down")
