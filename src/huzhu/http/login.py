"""Logging in, for both adapters: the API's token endpoint and the web login form, and the
sessions a login starts.

Each step in its own unit of work so that the slow password check holds no transaction and a
failed attempt is counted (committed) although the request then fails: read (refuse an address
still backing off, or an attempt without the step-up challenge its login needs), check the
password with no session open, write (count the failure, or clear the counts and upgrade an
outdated hash). Times are the wall clock: moving the sandbox clock must not lift a backoff.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from huzhu.accounts import service as accounts
from huzhu.accounts import sessions
from huzhu.accounts.errors import AccountError
from huzhu.accounts.models import Role, SessionEnd, SessionKind
from huzhu.accounts.passwords import hash_password, verify_password
from huzhu.db import unit_of_work
from huzhu.errors import InvalidInput
from huzhu.http.security import issue_access_token
from huzhu.platform import Platform


@dataclass(frozen=True)
class SignedIn:
    account_id: int
    role: Role


def challenge_key(platform: Platform) -> str:
    """The key step-up challenges are signed with (derived from the server's secret, used for nothing else)."""
    secret = platform.settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(secret, b"huzhu-login-challenge-key", hashlib.sha256).hexdigest()


def log_in(platform: Platform, *, login: str, password: str, client_ip: str | None,
           challenge: str | None = None, solution: str | None = None) -> SignedIn:
    """The account for ``login`` + ``password``; raises ``InvalidCredentials`` (401),
    ``ChallengeRequired`` (401, with a challenge to solve) or ``TooManyAttempts`` (429)."""
    now = platform.wall_clock.now()
    with platform.read_factory() as session:
        attempt = accounts.begin_login(session, login=login, client_ip=client_ip, now=now,
                                       challenge_key=challenge_key(platform), challenge_token=challenge,
                                       solution=solution)
    if not accounts.password_matches(attempt, password):
        with unit_of_work(platform.factory) as session:
            accounts.record_login_failure(session, attempt, now=now)
        raise accounts.InvalidCredentials(AccountError.WRONG_CREDENTIALS)
    with unit_of_work(platform.factory) as session:
        account = accounts.record_login_success(session, attempt, password=password, now=now)
        return SignedIn(account_id=account.id, role=account.role)


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class ApiTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


def _api_tokens(platform: Platform, started: sessions.Started, now: datetime) -> ApiTokens:
    row = started.session
    access = issue_access_token(row.account_id, row.id, secret=platform.settings.secret_key.get_secret_value(),
                                now=now)
    return ApiTokens(access_token=access, refresh_token=started.secret,
                     expires_in=int(sessions.ACCESS_TOKEN_TTL.total_seconds()),
                     refresh_expires_in=max(0, int((row.expires_at - now).total_seconds())))


def open_api_session(platform: Platform, session: Session, account_id: int) -> ApiTokens:
    """A new API session in the caller's transaction (a new account's first login)."""
    now = platform.wall_clock.now()
    return _api_tokens(platform, sessions.start_session(session, account_id=account_id, kind=SessionKind.API,
                                                        now=now), now)


def start_api_session(platform: Platform, account_id: int) -> ApiTokens:
    """A new API session for a signed-in account: its first access and refresh tokens."""
    with unit_of_work(platform.factory) as session:
        return open_api_session(platform, session, account_id)


def refresh_api_session(platform: Platform, refresh_token: str) -> ApiTokens:
    """Rotate a refresh token. A reused one ends its session, and that end is committed although
    the request is refused."""
    now = platform.wall_clock.now()
    try:
        with unit_of_work(platform.factory) as session:
            return _api_tokens(platform, sessions.refresh(session, refresh_token, now=now), now)
    except sessions.ReuseDetected:
        with unit_of_work(platform.factory) as session:
            sessions.refresh_reused(session, refresh_token, now=now)
        raise


@dataclass(frozen=True)
class WebCookie:
    value: str
    max_age: int


def start_web_session(platform: Platform, account_id: int) -> WebCookie:
    now = platform.wall_clock.now()
    with unit_of_work(platform.factory) as session:
        started = sessions.start_session(session, account_id=account_id, kind=SessionKind.WEB, now=now)
    return WebCookie(value=started.secret, max_age=int(sessions.WEB_SESSION_TTL.total_seconds()))


def end_session(platform: Platform, session_id: int) -> None:
    with unit_of_work(platform.factory) as session:
        sessions.end_session(session, session_id, reason=SessionEnd.LOGGED_OUT, now=platform.wall_clock.now())


def end_every_session(platform: Platform, account_id: int) -> int:
    with unit_of_work(platform.factory) as session:
        return sessions.end_all_sessions(session, account_id, reason=SessionEnd.LOGGED_OUT_EVERYWHERE,
                                         now=platform.wall_clock.now())


def change_password(platform: Platform, *, account_id: int, current: str, new: str) -> int:
    """Check the current password and set the new one (both slow hashes outside any transaction);
    every session of the account ends. Returns how many sessions were ended."""
    if current == new:
        raise InvalidInput(AccountError.SAME_PASSWORD)
    with platform.read_factory() as session:
        stored = accounts.account_or_raise(session, account_id).password_hash
    if not verify_password(stored, current):
        raise accounts.InvalidCredentials(AccountError.WRONG_CURRENT_PASSWORD)
    new_hash = hash_password(new)
    with unit_of_work(platform.factory) as session:
        return sessions.set_password_hash(session, account_id, new_hash, now=platform.wall_clock.now())
