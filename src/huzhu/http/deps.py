"""Request dependencies shared by the API and the pages: the platform, the unit-of-work session,
the business clock and the signed-in account (with the session it signed in with)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from huzhu.accounts import sessions
from huzhu.accounts.errors import AccountError
from huzhu.accounts.models import STAFF_ROLES, Account, Role
from huzhu.db import unit_of_work
from huzhu.errors import DomainError, Forbidden
from huzhu.http.idempotency import money_request_failpoint
from huzhu.http.security import CSRF_HEADER, SESSION_COOKIE, csrf_ok, csrf_token, read_access_token
from huzhu.messages import OneOf
from huzhu.platform import Platform


class Unauthorized(DomainError):
    status_code = 401
    type_slug = "unauthorized"
    title = "Authentication required"


# Dependencies that do no I/O are ``async def``: FastAPI runs plain ``def`` dependencies in the
# thread pool, and each hop there costs more than the work itself under load.
async def get_platform(request: Request) -> Platform:
    return request.app.state.platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_session(request: Request) -> Iterator[Session]:
    """The request is the unit of work: commit when the route returns, roll back on any error.
    Reads (GET, HEAD) get a session that never waits for a writer's lock on SQLite."""
    platform: Platform = request.app.state.platform
    with unit_of_work(platform.read_factory if request.method in ("GET", "HEAD") else platform.factory) as session:
        yield session
        money_request_failpoint(request, "before_commit")
    money_request_failpoint(request, "after_commit")


# scope="function": commit before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_now(request: Request, session: SessionDep) -> datetime:
    """Read the (possibly sandbox) clock once per request, in the request's own transaction."""
    return request.app.state.platform.clock.now_in(session)


NowDep = Annotated[datetime, Depends(get_now)]


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Caller:
    """Who sent the request: the account, the session it signed in with, and whether the session
    came with the browser's cookie (then a request that changes something needs its CSRF token)."""

    account: Account
    session_id: int
    via_cookie: bool


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def caller_from_request(request: Request, session: Session) -> Caller | None:
    """The caller of a request with a live session: a bearer access token (the API), else the web
    session cookie. An ended or expired session, a token for another session kind or an inactive
    account is nobody. Times are the wall clock's."""
    platform: Platform = request.app.state.platform
    now = platform.wall_clock.now()
    token = bearer_token(request)
    if token is not None:
        claims = read_access_token(token, secret=platform.settings.secret_key.get_secret_value(), now=now)
        live = claims and sessions.api_session(session, claims.session_id, account_id=claims.account_id, now=now)
        via_cookie = False
    else:
        live = sessions.web_session(session, request.cookies.get(SESSION_COOKIE), now=now)
        via_cookie = True
    if not live:
        return None
    account = session.get(Account, live.account_id)
    if account is None or not account.is_active:
        return None
    return Caller(account=account, session_id=live.id, via_cookie=via_cookie)


def account_from_request(request: Request, session: Session, now: datetime) -> Account | None:
    caller = caller_from_request(request, session)
    return caller.account if caller is not None else None


def _checked(request: Request, caller: Caller | None) -> Caller | None:
    """With the session cookie, a request that is not a read must carry the session's CSRF token
    in ``X-CSRF-Token``: a page of another site can make the browser send the cookie, never the token."""
    request.state.account_id = caller.account.id if caller is not None else None
    if caller is not None and caller.via_cookie and request.method not in SAFE_METHODS:
        platform: Platform = request.app.state.platform
        expected = csrf_token(platform.settings.secret_key.get_secret_value(), session_id=caller.session_id,
                              anonymous=None)
        if not csrf_ok(expected, request.headers.get(CSRF_HEADER)):
            raise Forbidden(AccountError.CSRF_REQUIRED)
    return caller


def get_caller(request: Request, session: SessionDep, now: NowDep) -> Caller | None:
    """The caller (``None`` for anonymous), read in the request's unit of work."""
    return _checked(request, caller_from_request(request, session))


def get_caller_apart(request: Request) -> Caller:
    """The signed-in caller, read in a session of its own (its account detached), for routes that
    run their own transactions (logging out, changing the password): the request holds no
    transaction, so theirs never wait for it."""
    platform: Platform = request.app.state.platform
    with platform.read_factory() as session:
        caller = caller_from_request(request, session)
        if caller is not None:
            session.expunge(caller.account)
    if _checked(request, caller) is None:
        raise Unauthorized(AccountError.LOG_IN_FIRST)
    assert caller is not None
    return caller


CallerApart = Annotated[Caller, Depends(get_caller_apart)]


CallerDep = Annotated[Caller | None, Depends(get_caller)]


async def get_current_caller(caller: CallerDep) -> Caller:
    if caller is None:
        raise Unauthorized(AccountError.LOG_IN_FIRST)
    return caller


CurrentCaller = Annotated[Caller, Depends(get_current_caller)]


async def get_optional_account(caller: CallerDep) -> Account | None:
    return caller.account if caller is not None else None


OptionalAccount = Annotated[Account | None, Depends(get_optional_account)]


async def get_current_account(account: OptionalAccount) -> Account:
    if account is None:
        raise Unauthorized(AccountError.LOG_IN_FIRST)
    return account


CurrentAccount = Annotated[Account, Depends(get_current_account)]


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Account]]:
    """``Depends(require_role(Role.ADMIN))``: the current account, if it has one of ``roles`` (else 403)."""

    async def dependency(account: CurrentAccount) -> Account:
        if account.role not in roles:
            raise Forbidden(AccountError.ROLE_REQUIRED, roles=OneOf(roles), role=account.role)
        return account

    dependency.__name__ = f"require_role_{'_'.join(roles)}"
    return dependency


StaffAccount = Annotated[Account, Depends(require_role(*STAFF_ROLES))]
AdminAccount = Annotated[Account, Depends(require_role(Role.ADMIN))]
