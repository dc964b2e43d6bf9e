"""Request dependencies shared by the API and the pages: the platform, the unit-of-work session,
the business clock and the signed-in account."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from huzhu.accounts.errors import AccountError
from huzhu.accounts.models import STAFF_ROLES, Account, Role
from huzhu.db import unit_of_work
from huzhu.errors import DomainError, Forbidden
from huzhu.http.security import SESSION_COOKIE, read_token
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


# scope="function": commit before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_now(request: Request, session: SessionDep) -> datetime:
    """Read the (possibly sandbox) clock once per request, in the request's own transaction."""
    return request.app.state.platform.clock.now_in(session)


NowDep = Annotated[datetime, Depends(get_now)]


def bearer_or_cookie_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def account_from_request(request: Request, session: Session, now: datetime) -> Account | None:
    token = bearer_or_cookie_token(request)
    if not token:
        return None
    platform: Platform = request.app.state.platform
    account_id = read_token(token, secret=platform.settings.secret_key.get_secret_value(), now=platform.wall_clock.now())
    if account_id is None:
        return None
    account = session.get(Account, account_id)
    if account is None or not account.is_active:
        return None
    return account


def get_optional_account(request: Request, session: SessionDep, now: NowDep) -> Account | None:
    account = account_from_request(request, session, now)
    request.state.account_id = account.id if account is not None else None
    return account


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
