"""Registration and the OAuth2 password-flow token endpoint (logging in is ``http.login``, shared
with the web login form; its rules are the accounts domain's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field

from huzhu.accounts.models import Role
from huzhu.accounts.passwords import MAX_LENGTH, MIN_LENGTH, PASSWORD_PATTERN
from huzhu.accounts.service import LOGIN_PATTERN, register_account
from huzhu.http.deps import NowDep, PlatformDep, SessionDep
from huzhu.http.login import log_in
from huzhu.http.security import issue_token
from huzhu.http.text import LINE_PATTERN, Line, RequestBody

# ---------------------------------------------------------------- schemas


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    display_name: str
    role: Role
    phone: str | None = None
    email: str | None = None
    created_at: datetime


Password = Annotated[str, Field(
    min_length=MIN_LENGTH, max_length=MAX_LENGTH, pattern=PASSWORD_PATTERN,
    description=f"{MIN_LENGTH} to {MAX_LENGTH} characters, not only ASCII letters and not only digits "
                "(mix letters with digits or symbols), no control characters")]
Login = Annotated[str, Field(min_length=3, max_length=254, pattern=LOGIN_PATTERN,
                             description="mainland mobile number (11 digits) or e-mail address")]


class AccountCreate(RequestBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"login": "13812345678", "password": "quark-2016!", "display_name": "彭静"}]},
    )

    login: Login
    password: Password
    display_name: Line = Field(min_length=1, max_length=100)


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
                               display_name=body.display_name, now=now, role=Role.MEMBER)
    token = issue_token(account.id, secret=platform.settings.secret_key.get_secret_value(), now=platform.wall_clock.now(), ttl=TOKEN_TTL)
    return Registered(account=AccountRead.model_validate(account), access_token=token,
                      expires_in=int(TOKEN_TTL.total_seconds()))


@router.post("/token", response_model=Token,
             responses={401: {"description": "wrong login or password"}, 429: {"description": "locked out"}})
def token(
    request: Request,
    platform: PlatformDep,
    username: Annotated[str, Form(max_length=254, pattern=LINE_PATTERN, description="mobile number or e-mail")],
    password: Annotated[str, Form(max_length=MAX_LENGTH, pattern=LINE_PATTERN)],
) -> Token:
    """OAuth2 password flow: form fields `username` (phone or e-mail) and `password`."""
    signed_in = log_in(platform, login=username, password=password, client_ip=client_address(request))
    access = issue_token(signed_in.account_id, secret=platform.settings.secret_key.get_secret_value(), now=platform.wall_clock.now(),
                         ttl=TOKEN_TTL)
    return Token(access_token=access, expires_in=int(TOKEN_TTL.total_seconds()))
