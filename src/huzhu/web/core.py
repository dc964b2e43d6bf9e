"""What every page shares: rendering in the caller's language, the signed-in account, CSRF, and
turning every failure into a page (login redirect, 403, 404, 4xx with the message) — never a trace.

Pages call the domain services directly; each write is one ``platform.session()`` unit of work,
so an error rolls everything back before the form is shown again with its message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from huzhu.accounts.models import Account, Role
from huzhu.db import database_refusal
from huzhu.errors import DomainError, ErrorCode
from huzhu.http.deps import caller_from_request
from huzhu.http.security import CSRF_COOKIE, csrf_ok, csrf_token, new_anonymous_binding, set_anonymous_cookie
from huzhu.http.text import check_text, normalise_newlines
from huzhu.platform import Platform
from huzhu.web.i18n import LANG_COOKIE, gettext, negotiate_locale, normalise
from huzhu.web.rendering import environment
from huzhu.web.words import error_text

log = logging.getLogger("huzhu.web")

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Form fields whose text may span lines (textareas); every other field is one line.
FREE_TEXT_FIELDS = frozenset({"description", "summary", "reason", "note"})


class PageError(ErrorCode):
    """Refusals of the pages' own forms (before the domain sees them)."""

    PASSWORD_SHORT = ("web.password_short", "password must be at least 8 characters")
    PASSWORDS_DIFFER = ("web.passwords_differ", "the two passwords are not the same")
    CHOOSE_PLAN = ("web.choose_plan", "choose a plan")
    GRADES_FORMAT = ("web.grades_format", "disability grades must be whole numbers from 1 to 10, separated by commas")
    INCIDENT_DATE = ("web.incident_date", "incident date: give a date like 2016-02-09")
    CONFIRMED_DATE = ("web.confirmed_date", "confirmed incident date: give a date like 2016-02-09")
    SANDBOX_BANK_ONLY = ("web.sandbox_bank_only", "only the sandbox bank can be paid from this page")
    VIRTUAL_ACCOUNT_PENDING = ("web.virtual_account_pending", "the virtual account is not opened yet; reload the page")
    CHOOSE_CLAIM = ("web.choose_claim", "choose the member and the aid you are claiming")
    CHOOSE_FILE = ("web.choose_file", "choose a file to upload")
    CHOOSE_OBJECTOR = ("web.choose_objector", "choose which of your members objects")
    CHOOSE_DECISION = ("web.choose_decision", "choose approve or reject")
    CHOOSE_OUTCOME = ("web.choose_outcome", "choose dismiss or uphold")
    CLOCK_TIME = ("web.clock_time", "give the time as 2016-02-23T11:00")
    CLOCK_NUMBERS = ("web.clock_numbers", "days and hours must be whole numbers")


class LoginRequired(Exception):
    pass


class WrongRole(Exception):
    def __init__(self, roles: tuple[Role, ...]) -> None:
        super().__init__(", ".join(roles))
        self.roles = roles


class CsrfRejected(Exception):
    pass


class PageNotFound(Exception):
    pass


@dataclass
class Ctx:
    """The per-request view of the world a page needs."""

    request: Request
    platform: Platform
    locale: str
    now: datetime
    account: Account | None = None
    session_id: int | None = None  # the signed-in web session
    csrf: str = ""  # the CSRF token of this request's session (or anonymous binding)
    new_binding: str | None = None  # a new visitor's anonymous binding, set as a cookie
    extra_cookies: dict[str, str] = field(default_factory=dict)

    def _(self, message: str, **params: object) -> str:
        return gettext(self.locale, message, **params)

    @property
    def is_zh(self) -> bool:
        return self.locale == "zh_CN"


def page_ctx(request: Request) -> Ctx:
    cached = getattr(request.state, "web_ctx", None)
    if cached is not None:
        return cached
    platform: Platform = request.app.state.platform
    locale = negotiate_locale(request)
    with platform.read_factory() as session:
        now = platform.clock.now_in(session)
        caller = caller_from_request(request, session)
        if caller is not None:
            session.expunge(caller.account)
    secret = platform.settings.secret_key.get_secret_value()
    if caller is not None:
        ctx = Ctx(request=request, platform=platform, locale=locale, now=now, account=caller.account,
                  session_id=caller.session_id, csrf=csrf_token(secret, session_id=caller.session_id, anonymous=None))
    else:
        binding = request.cookies.get(CSRF_COOKIE) or ""
        new_binding = None if binding else new_anonymous_binding()
        ctx = Ctx(request=request, platform=platform, locale=locale, now=now, new_binding=new_binding,
                  csrf=csrf_token(secret, session_id=None, anonymous=binding or new_binding))
    wanted = request.query_params.get("lang")
    if wanted and normalise(wanted):
        ctx.extra_cookies[LANG_COOKIE] = normalise(wanted) or ""
    request.state.web_ctx = ctx
    return ctx


def require(ctx: Ctx, *roles: Role) -> Account:
    if ctx.account is None:
        raise LoginRequired()
    if roles and ctx.account.role not in roles:
        raise WrongRole(roles)
    return ctx.account


def finish(ctx: Ctx, response: Response) -> Response:
    settings = ctx.platform.settings
    if ctx.new_binding:
        set_anonymous_cookie(response, ctx.new_binding, settings)
    for name, value in ctx.extra_cookies.items():
        response.set_cookie(name, value, max_age=365 * 24 * 3600, samesite="lax", secure=settings.secure_cookies,
                            httponly=True, path="/")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def language_url(request: Request, locale: str) -> str:
    """This page in the other language: the same address and query, only ``lang`` changed."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    query.append(("lang", "en" if locale == "en" else "zh"))
    return request.url.path + "?" + urlencode(query)


def render(ctx: Ctx, template: str, status_code: int = 200, **values: Any) -> Response:
    env = environment(ctx.locale)
    html = env.get_template(template).render(
        other_language_url=language_url(ctx.request, "en" if ctx.is_zh else "zh_CN"),
        request=ctx.request, account=ctx.account, csrf_token=ctx.csrf, now=ctx.now,
        sandbox=ctx.platform.settings.sandbox, path=ctx.request.url.path,
        max_mb=f"{ctx.platform.settings.max_upload_bytes / 1024 / 1024:.1f}".rstrip("0").rstrip("."),
        full_path=ctx.request.url.path + (("?" + ctx.request.url.query) if ctx.request.url.query else ""),
        **values,
    )
    return finish(ctx, HTMLResponse(html, status_code=status_code))


def redirect(ctx: Ctx, url: str) -> Response:
    return finish(ctx, RedirectResponse(url, status_code=303))


def error_page(ctx: Ctx, status_code: int, message: str, title: str | None = None) -> Response:
    titles = {
        400: ctx._("The request could not be understood"),
        403: ctx._("Not allowed"),
        404: ctx._("Page not found"),
        409: ctx._("Not possible right now"),
        413: ctx._("Upload too large"),
        422: ctx._("Please check what you entered"),
        500: ctx._("Something went wrong on our side"),
    }
    return render(ctx, "error.html", status_code=status_code, title=title or titles.get(status_code, titles[400]),
                  message=message)


def domain_message(ctx: Ctx, exc: DomainError) -> str:
    """What the page says about a refusal, by its code, in the page's language."""
    return error_text(ctx.locale, exc)


def form_data(request: Request) -> FormData:
    """The POST form, parsed (and its CSRF token checked) by ``WebRoute`` before the page runs."""
    return request.state.form


def checked_form(form: FormData) -> FormData:
    """The form with every text field checked for control characters (a 422 naming the field)
    and textarea newlines read as LF; uploaded files are passed through as they are."""
    items: list[tuple[str, Any]] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            free = name in FREE_TEXT_FIELDS
            value = normalise_newlines(value) if free else value
            check_text(f"form.{name}", name)
            check_text(f"form.{name}", value, free_text=free)
        items.append((name, value))
    return FormData(items)


class WebRoute(APIRoute):
    """Every web route: CSRF on each POST before anything runs, and every failure as a page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            ctx: Ctx | None = None
            try:
                # Pages are plain functions run in the thread pool (they use the database); only
                # reading the request body happens here on the event loop.
                ctx = await run_in_threadpool(page_ctx, request)
                if request.method == "POST":
                    # The body's size was capped as it arrived (http.limits.BodyLimit).
                    form = await request.form(max_files=ctx.platform.settings.max_upload_files, max_fields=200)
                    submitted = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
                    # The token of this request's own session: a new visitor's (no binding yet) never matches.
                    expected = None if ctx.new_binding else ctx.csrf
                    if not csrf_ok(expected, submitted if isinstance(submitted, str) else None):
                        raise CsrfRejected()
                    form = checked_form(form)
                    request.state.form = form
                return await handler(request)
            except LoginRequired:
                ctx = ctx or page_ctx(request)
                target = request.url.path if request.method == "GET" else "/"
                return redirect(ctx, "/login?next=" + quote(target))
            except WrongRole:
                ctx = ctx or page_ctx(request)
                return error_page(ctx, 403, ctx._("Your account does not have access to this page."))
            except CsrfRejected:
                ctx = ctx or page_ctx(request)
                return error_page(ctx, 403, ctx._(
                    "The form's security token is missing or out of date. Nothing was saved. "
                    "Please go back, reload the page and try again."))
            except PageNotFound:
                ctx = ctx or page_ctx(request)
                return error_page(ctx, 404, ctx._("There is nothing at this address."))
            except DomainError as exc:
                ctx = ctx or page_ctx(request)
                return error_page(ctx, exc.status_code, domain_message(ctx, exc))
            except RequestValidationError:
                ctx = ctx or page_ctx(request)
                return error_page(ctx, 422, ctx._("Some of the values in the address or form are not valid."))
            except HTTPException as exc:
                ctx = ctx or page_ctx(request)
                return error_page(ctx, exc.status_code if 400 <= exc.status_code < 600 else 400, str(exc.detail))
            except (DBAPIError, PoolTimeout) as exc:
                refusal = database_refusal(exc)
                if refusal is None:
                    log.exception("web page failed: %s %s", request.method, request.url.path)
                    refusal_status, message = 500, None
                else:
                    log.warning("database %s: %s %s", refusal.failure.value, request.method, request.url.path)
                    refusal_status, message = refusal.status_code, refusal
                try:
                    ctx = ctx or page_ctx(request)
                    text = domain_message(ctx, message) if message else ctx._(
                        "The error has been logged. Please try again later.")
                    return error_page(ctx, refusal_status, text, title=ctx._("Not possible right now"))
                except Exception:  # the database that failed is also where the page's context comes from
                    return HTMLResponse(f"<h1>{refusal_status}</h1>", status_code=refusal_status)
            except Exception:
                log.exception("web page failed: %s %s", request.method, request.url.path)
                try:
                    ctx = ctx or page_ctx(request)
                    return error_page(ctx, 500, ctx._("The error has been logged. Please try again later."))
                except Exception:
                    return HTMLResponse("<h1>500</h1>", status_code=500)

        return route


async def html_error_page(request: Request, status_code: int) -> Response:
    """Errors raised before any page ran (unknown address, wrong method) as a page in the visitor's language."""
    ctx = await run_in_threadpool(page_ctx, request)
    messages = {404: ctx._("There is nothing at this address."), 405: ctx._("This address does not accept that action.")}
    return error_page(ctx, status_code, messages.get(status_code, ctx._("The request could not be understood")))
