"""Accounts: registering a login, finding it, roles, and logging in with protection against
password guessing. Services here only flush; the caller's unit of work commits.

Logging in has three steps so that the deliberately slow password check never runs inside a
database transaction (on SQLite a write transaction is the one writer's turn): ``begin_login``
reads (and refuses a locked-out login), ``password_matches`` checks the password with no session,
then ``record_login_success`` or ``record_login_failure`` writes. ``http.login`` runs them for
both adapters, each step in its own unit of work, so a failed attempt is counted even though the
request then fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.accounts.errors import AccountError
from huzhu.accounts.models import Account, LoginThrottle, Role
from huzhu.accounts.passwords import hash_password, rehash_if_outdated, verify_password
from huzhu.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from huzhu.messages import OneOf

PHONE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]{2,}$")
# Both forms as one pattern, as the API schema states it.
LOGIN_PATTERN = (r"^(1[3-9][0-9]{9}|[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]+"
                 r"\.[^@\s\x00-\x1f\x7f-\x9f]{2,})$")

def normalise_login(login: str) -> tuple[str | None, str | None]:
    """A login is a mainland mobile number or an e-mail address: returns (phone, email)."""
    login = (login or "").strip()
    if PHONE.match(login):
        return login, None
    if EMAIL.match(login) and len(login) <= 254:
        return None, login.lower()
    raise InvalidInput(AccountError.LOGIN_FORM)


def find_account_by_login(session: Session, login: str) -> Account | None:
    try:
        phone, email = normalise_login(login)
    except InvalidInput:
        return None
    column = Account.phone if phone else Account.email
    return session.scalar(select(Account).where(column == (phone or email)))


def register_account(
    session: Session, *, login: str, password: str, display_name: str, now: datetime, role: Role | str = Role.MEMBER
) -> Account:
    if role not in tuple(Role):
        raise InvalidInput(AccountError.UNKNOWN_ROLE, roles=OneOf(Role))
    display_name = (display_name or "").strip()
    if not 1 <= len(display_name) <= 100:
        raise InvalidInput(AccountError.DISPLAY_NAME)
    phone, email = normalise_login(login)
    # Hash first: the slow, deliberate part holds no database lock.
    password_hash = hash_password(password)
    if find_account_by_login(session, login) is not None:
        raise Conflict(AccountError.LOGIN_TAKEN)
    account = Account(
        phone=phone, email=email, display_name=display_name, password_hash=password_hash,
        role=Role(role), is_active=True, created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def account_or_raise(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(AccountError.NO_SUCH_ACCOUNT, account=account_id)
    return account


def require_role(account: Account, *roles: Role) -> None:
    if account.role not in roles:
        raise Forbidden(AccountError.ROLE_REQUIRED, roles=OneOf(roles), role=account.role)



# ---------------------------------------------------------------- logging in

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

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(AccountError.TOO_MANY_ATTEMPTS, minutes=retry_after // 60 + 1,
                         details={"retry_after": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class LoginAttempt:
    """What the read step found: the throttle keys, and the account's id and hash if it exists."""

    keys: tuple[tuple[str, int], ...]
    account_id: int | None
    password_hash: str | None


def _throttle_keys(login: str, client_ip: str | None) -> tuple[tuple[str, int], ...]:
    keys = [(f"login:{(login or '').strip().lower()[:280]}", MAX_FAILURES_PER_LOGIN)]
    if client_ip:
        keys.append((f"addr:{client_ip[:280]}", MAX_FAILURES_PER_ADDRESS))
    return tuple(keys)


def begin_login(session: Session, *, login: str, client_ip: str | None, now: datetime) -> LoginAttempt:
    """Refuse a login or address that is locked out; find the active account (read only)."""
    keys = _throttle_keys(login, client_ip)
    for key, _limit in keys:
        row = session.get(LoginThrottle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(1, int((row.locked_until - now).total_seconds()))
            raise TooManyAttempts(retry_after=wait)
    found = find_account_by_login(session, login or "")
    active = found is not None and found.is_active
    return LoginAttempt(keys=keys, account_id=found.id if active and found else None,
                        password_hash=found.password_hash if found is not None else None)


def password_matches(attempt: LoginAttempt, password: str) -> bool:
    """The slow check (Argon2id), with the same cost whether or not the account exists."""
    return verify_password(attempt.password_hash, password or "") and attempt.account_id is not None


def record_login_failure(session: Session, attempt: LoginAttempt, *, now: datetime) -> None:
    """Count a failure per login and per address; enough of them in the window lock the key."""
    for key, limit in attempt.keys:
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


def record_login_success(session: Session, attempt: LoginAttempt, *, password: str) -> Account:
    """Clear the login's failure count and upgrade an outdated password hash; returns the account."""
    assert attempt.account_id is not None
    account = account_or_raise(session, attempt.account_id)
    row = session.get(LoginThrottle, attempt.keys[0][0])
    if row is not None:
        session.delete(row)
    upgraded = rehash_if_outdated(account.password_hash, password)
    if upgraded is not None:
        account.password_hash = upgraded
    session.flush()
    return account
