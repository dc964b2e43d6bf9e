"""Login with rate limiting, registration and the OAuth2 password-flow token endpoint.

``authenticate`` is the one way to check a password; the web portal's login form calls it too.
Failed logins are counted per account login and per client address in ``login_throttles``;
too many in a window lock that key for a while (429 with ``Retry-After``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from huzhu.api.deps import NowDep, PlatformDep, SessionDep
from huzhu.api.security import issue_token
from huzhu.errors import DomainError
from huzhu.members.models import Account, LoginThrottle
from huzhu.members.passwords import rehash_if_outdated, verify_password
from huzhu.members.service import find_account_by_login, register_account

WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 20


class InvalidCredentials(DomainError):
    status_code = 401
    type_slug = "invalid-credentials"
    title = "Invalid login or password"


class TooManyAttempts(DomainError):
    status_code = 429
    type_slug = "too-many-login-attempts"
    title = "Too many failed logins"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


def _keys(login: str, client_ip: str | None) -> list[tuple[str, int]]:
    keys = [(f"login:{(login or '').strip().lower()[:280]}", MAX_FAILURES_PER_LOGIN)]
    if client_ip:
        keys.append((f"addr:{client_ip[:280]}", MAX_FAILURES_PER_ADDRESS))
    return keys


def _check_locked(session: Session, keys: list[tuple[str, int]], now: datetime) -> None:
    for key, _limit in keys:
        row = session.get(LoginThrottle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(1, int((row.locked_until - now).total_seconds()))
            raise TooManyAttempts(
                f"too many failed logins; try again in {wait // 60 + 1} minute(s)", retry_after=wait
            )


def _record_failure(session: Session, keys: list[tuple[str, int]], now: datetime) -> None:
    for key, limit in keys:
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now, locked_until=None)
            session.add(row)
        if now - row.window_started_at > WINDOW:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + LOCKOUT
    session.flush()


def authenticate(session: Session, *, login: str, password: str, client_ip: str | None, now: datetime) -> Account:
    """The active account for ``login`` + ``password``, or raise 401 / 429.

    A failure is recorded durably: this function commits ``session`` before raising, so the
    counters survive the caller's rollback. Call it before doing other writes in the request.
    """
    keys = _keys(login, client_ip)
    _check_locked(session, keys, now)
    found = find_account_by_login(session, login or "")
    account_id = found.id if found is not None and found.is_active else None
    password_hash = found.password_hash if found is not None else None
    # End the read before the deliberately slow password check, so it holds no lock (on SQLite
    # a write transaction is the one writer's turn).
    session.rollback()
    ok = verify_password(password_hash, password or "") and account_id is not None
    account = session.get(Account, account_id) if ok and account_id is not None else None
    if account is None:
        _record_failure(session, keys, now)
        session.commit()
        raise InvalidCredentials("the login or the password is wrong")
    row = session.get(LoginThrottle, keys[0][0])
    if row is not None:
        session.delete(row)
    upgraded = rehash_if_outdated(account.password_hash, password)
    if upgraded is not None:
        account.password_hash = upgraded
    session.flush()
    return account


# ---------------------------------------------------------------- schemas


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    display_name: str
    role: str
    phone: str | None = None
    email: str | None = None
    created_at: datetime


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"login": "13812345678", "password": "quark-2016!", "display_name": "彭静"}]},
    )

    login: str = Field(min_length=3, max_length=254, pattern=r"^(1[3-9][0-9]{9}|[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,})$",
                       description="mainland mobile number or e-mail address")
    password: str = Field(min_length=8, max_length=128)
    display_name: str = Field(min_length=1, max_length=100)


class Token(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"access_token": "eyJzdWIiOjEsImV4cCI6MX0.c2ln", "token_type": "bearer"}]}
    )

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Registered(BaseModel):
    account: AccountRead
    access_token: str
    token_type: str = "bearer"
    expires_in: int


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---------------------------------------------------------------- routes

router = APIRouter(prefix="/auth", tags=["auth"])
TOKEN_TTL = timedelta(hours=12)


@router.post("/register", status_code=201, response_model=Registered,
             responses={409: {"description": "login already registered"}})
def register(body: AccountCreate, session: SessionDep, now: NowDep, platform: PlatformDep) -> Registered:
    """Create a member account (staff accounts are created with `huzhu users create`)."""
    account = register_account(session, login=body.login, password=body.password,
                               display_name=body.display_name, now=now, role="member")
    token = issue_token(account.id, secret=platform.settings.secret_key, now=platform.wall_clock.now(), ttl=TOKEN_TTL)
    return Registered(account=AccountRead.model_validate(account), access_token=token,
                      expires_in=int(TOKEN_TTL.total_seconds()))


@router.post("/token", response_model=Token,
             responses={401: {"description": "wrong login or password"}, 429: {"description": "locked out"}})
def token(
    request: Request,
    session: SessionDep,
    platform: PlatformDep,
    username: Annotated[str, Form(max_length=254, description="mobile number or e-mail")],
    password: Annotated[str, Form(max_length=128)],
) -> Token:
    """OAuth2 password flow: form fields `username` (phone or e-mail) and `password`."""
    wall = platform.wall_clock.now()
    account = authenticate(session, login=username, password=password, client_ip=client_address(request), now=wall)
    access = issue_token(account.id, secret=platform.settings.secret_key, now=wall, ttl=TOKEN_TTL)
    return Token(access_token=access, expires_in=int(TOKEN_TTL.total_seconds()))
