"""Registration and the OAuth2 password-flow token endpoint (logging in is ``http.login``, shared
with the web login form; its rules are the accounts domain's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from huzhu.accounts.models import Role
from huzhu.accounts.passwords import MAX_LENGTH, MIN_LENGTH, PASSWORD_PATTERN
from huzhu.accounts.service import LOGIN_PATTERN, register_account
from huzhu.http.deps import CallerApart, NowDep, PlatformDep, SessionDep
from huzhu.http.login import (
    ApiTokens,
    change_password,
    end_every_session,
    end_session,
    log_in,
    open_api_session,
    refresh_api_session,
    start_api_session,
)
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
    """An access token (minutes) and the refresh token that gets the next one (used once)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "access_token": "eyJzdWIiOjEsInNpZCI6MSwiZXhwIjoxfQ.c2ln", "token_type": "bearer", "expires_in": 900,
        "refresh_token": "Wm9vLWJhci1yZWZyZXNo", "refresh_expires_in": 2592000}]})

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="POST it to /auth/refresh for the next pair; each works once")
    refresh_expires_in: int = Field(description="seconds until the session ends, however often it is refreshed")

    @classmethod
    def of(cls, tokens: ApiTokens) -> Token:
        return cls(access_token=tokens.access_token, expires_in=tokens.expires_in,
                   refresh_token=tokens.refresh_token, refresh_expires_in=tokens.refresh_expires_in)


class Registered(Token):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "access_token": "eyJzdWIiOjEsInNpZCI6MSwiZXhwIjoxfQ.c2ln", "token_type": "bearer", "expires_in": 900,
        "refresh_token": "Wm9vLWJhci1yZWZyZXNo", "refresh_expires_in": 2592000,
        "account": {"id": 1, "display_name": "彭静", "role": "member", "phone": "13812345678", "email": None,
                    "created_at": "2015-03-02T02:00:00Z"}}]})

    account: AccountRead


class RefreshRequest(RequestBody):
    refresh_token: str = Field(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")


class PasswordChange(RequestBody):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH, pattern=LINE_PATTERN)
    new_password: Password


class SessionsEnded(BaseModel):
    sessions_ended: int


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---------------------------------------------------------------- routes

router = APIRouter(prefix="/auth", tags=["auth"])
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "not logged in, or the session has ended"}}


@router.post("/register", status_code=201, response_model=Registered,
             responses={409: {"description": "login already registered"}})
def register(body: AccountCreate, session: SessionDep, now: NowDep, platform: PlatformDep) -> Registered:
    """Create a member account and log it in (staff accounts are created with `huzhu users create`)."""
    account = register_account(session, login=body.login, password=body.password,
                               display_name=body.display_name, now=now, role=Role.MEMBER)
    tokens = open_api_session(platform, session, account.id)
    return Registered(account=AccountRead.model_validate(account), **Token.of(tokens).model_dump())


@router.post("/token", response_model=Token,
             responses={401: {"description": "wrong login or password"}, 429: {"description": "too many attempts"}})
def token(
    request: Request,
    platform: PlatformDep,
    username: Annotated[str, Form(max_length=254, pattern=LINE_PATTERN, description="mobile number or e-mail")],
    password: Annotated[str, Form(max_length=MAX_LENGTH, pattern=LINE_PATTERN)],
    challenge: Annotated[str | None, Form(max_length=400, pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$", description=(
        "after failed attempts for this login: the challenge from the 401 problem's `details`"))] = None,
    solution: Annotated[str | None, Form(max_length=64, pattern=r"^[\x21-\x7e]+$", description=(
        "a string s such that SHA-256 of `<challenge>:<s>` starts with `difficulty` zero bits"))] = None,
) -> Token:
    """OAuth2 password flow: form fields `username` (phone or e-mail) and `password`. Starts a session:
    a short access token and a refresh token.

    After failed attempts for a login, its next attempts need a solved proof-of-work challenge
    (401 `challenge-required`, the challenge and its difficulty in `details`); an address with
    many failures waits a little longer before each attempt (429 with `Retry-After`). Neither ever
    refuses the right password with a solved challenge."""
    signed_in = log_in(platform, login=username, password=password, client_ip=client_address(request),
                       challenge=challenge, solution=solution)
    return Token.of(start_api_session(platform, signed_in.account_id))


@router.post("/refresh", response_model=Token, responses=UNAUTHORIZED)
def refresh(body: RefreshRequest, platform: PlatformDep) -> Token:
    """The next access token and refresh token of a session. A refresh token works once: presented
    again, it ends its session (it may have been copied), and both holders must log in again."""
    return Token.of(refresh_api_session(platform, body.refresh_token))


@router.post("/logout", status_code=204, responses=UNAUTHORIZED)
def logout(caller: CallerApart, platform: PlatformDep) -> Response:
    """End this session: its access and refresh tokens stop working at once."""
    end_session(platform, caller.session_id)
    return Response(status_code=204)


@router.post("/logout-everywhere", response_model=SessionsEnded, responses=UNAUTHORIZED)
def logout_everywhere(caller: CallerApart, platform: PlatformDep) -> SessionsEnded:
    """End every session of this account, in every browser and client."""
    return SessionsEnded(sessions_ended=end_every_session(platform, caller.account.id))


@router.post("/password", response_model=Token, responses={**UNAUTHORIZED, 422: {"description": "weak password"}})
def password(body: PasswordChange, caller: CallerApart, platform: PlatformDep) -> Token:
    """Change the password: every session of the account ends, and this client gets a new one."""
    change_password(platform, account_id=caller.account.id, current=body.current_password, new=body.new_password)
    return Token.of(start_api_session(platform, caller.account.id))
