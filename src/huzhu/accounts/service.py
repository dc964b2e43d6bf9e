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

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from huzhu.accounts import challenge
from huzhu.accounts.errors import AccountError
from huzhu.accounts.models import Account, LoginChallengeUse, LoginThrottle, Role, phone_digest
from huzhu.accounts.passwords import hash_password, rehash_if_outdated, verify_password
from huzhu.db import affected_rows
from huzhu.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from huzhu.messages import OneOf
from huzhu.sealing.keyring import keyring_of

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
    if phone:  # sealed at rest: found by its keyed digest
        return session.scalar(select(Account).where(Account.phone_digest == phone_digest(keyring_of(session), phone)))
    return session.scalar(select(Account).where(Account.email == email))


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
#
# Protection that cannot be turned against the owner (docs/threat-model.md):
# - per client address, an exponential backoff: after ADDRESS_FREE_FAILURES failures the address
#   waits 1, 2, 4 … seconds (at most ADDRESS_MAX_WAIT) before its next attempt is even looked at;
#   only the guessing address waits;
# - per login, a step-up challenge instead of a lock: after challenge.FREE_FAILURES failures every
#   attempt for that login must carry a solved proof of work, one bit harder per further failure
#   (the work doubles) up to challenge.MAX_BITS. The owner solves one and logs in; a guesser pays
#   for every guess. Nothing ever refuses the right password with a solved challenge.

ADDRESS_FREE_FAILURES = 5
ADDRESS_MAX_WAIT = timedelta(minutes=15)
ADDRESS_FORGET_AFTER = timedelta(hours=1)  # an address's count is forgotten an hour after its last failure
LOGIN_FORGET_AFTER = timedelta(hours=24)  # a login's, a day after


class InvalidCredentials(DomainError):
    status_code = 401
    type_slug = "invalid-credentials"
    title = "Invalid login or password"


class TooManyAttempts(DomainError):
    status_code = 429
    type_slug = "too-many-login-attempts"
    title = "Too many failed logins"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(AccountError.TOO_MANY_ATTEMPTS, seconds=retry_after, details={"retry_after": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


class ChallengeRequired(DomainError):
    """The login needs a solved step-up challenge: a fresh one is in ``details``."""

    status_code = 401
    type_slug = "challenge-required"
    title = "Solve the login challenge"

    def __init__(self, issued: challenge.Challenge) -> None:
        super().__init__(AccountError.CHALLENGE_REQUIRED, details=issued.as_details())
        self.challenge = issued


@dataclass(frozen=True)
class LoginAttempt:
    """What the read step found: the throttle keys, the account's id and hash if it exists, and
    the step-up challenge the attempt solved (if it needed one)."""

    login_key: str
    address_key: str | None
    account_id: int | None
    password_hash: str | None
    challenge_id: str | None


def _login_key(session: Session, login: str) -> str:
    """The per-login counter's key: a keyed digest, so the table holds no phone or e-mail in clear."""
    return f"login:{keyring_of(session).digest('login', (login or '').strip().lower()[:280])}"


def _fresh(row: LoginThrottle | None, now: datetime, forget_after: timedelta) -> int:
    """A counter's failures, or 0 when its last failure is old enough to forget."""
    if row is None or now - row.last_failure_at > forget_after:
        return 0
    return row.failures


def begin_login(session: Session, *, login: str, client_ip: str | None, now: datetime, challenge_key: str,
                challenge_token: str | None = None, solution: str | None = None) -> LoginAttempt:
    """Refuse an address still backing off (429) and an attempt without the challenge its login
    needs (401 with a fresh challenge); find the active account. Reads only."""
    address_key = f"addr:{client_ip[:280]}" if client_ip else None
    if address_key is not None:
        row = session.get(LoginThrottle, address_key)
        if row is not None and row.next_attempt_at is not None and row.next_attempt_at > now:
            raise TooManyAttempts(retry_after=max(1, math.ceil((row.next_attempt_at - now).total_seconds())))
    login_key = _login_key(session, login)
    bits = challenge.required_bits(_fresh(session.get(LoginThrottle, login_key), now, LOGIN_FORGET_AFTER))
    challenge_id = None
    if bits:
        challenge_id = challenge.verified_id(challenge_key, challenge_token, solution, login_key=login_key, bits=bits,
                                             now=now)
        if challenge_id is None or session.get(LoginChallengeUse, challenge_id) is not None:
            raise ChallengeRequired(challenge.issue(challenge_key, login_key=login_key, bits=bits, now=now))
    found = find_account_by_login(session, login or "")
    active = found is not None and found.is_active
    return LoginAttempt(login_key=login_key, address_key=address_key,
                        account_id=found.id if active and found else None,
                        password_hash=found.password_hash if found is not None else None, challenge_id=challenge_id)


def password_matches(attempt: LoginAttempt, password: str) -> bool:
    """The slow check (Argon2id), with the same cost whether or not the account exists."""
    return verify_password(attempt.password_hash, password or "") and attempt.account_id is not None


def _use_challenge(session: Session, attempt: LoginAttempt, now: datetime) -> None:
    """Record the attempt's challenge as used (each works once); a second use in a race is refused."""
    if attempt.challenge_id is None:
        return
    if session.get(LoginChallengeUse, attempt.challenge_id) is not None:
        raise InvalidCredentials(AccountError.CHALLENGE_USED)
    session.add(LoginChallengeUse(challenge_id=attempt.challenge_id, expires_at=now + challenge.TTL))
    session.flush()


def _count_failure(session: Session, key: str, now: datetime, forget_after: timedelta) -> LoginThrottle:
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, last_failure_at=now, next_attempt_at=None)
        session.add(row)
    row.failures = _fresh(row, now, forget_after) + 1
    row.last_failure_at = now
    return row


def address_wait(failures: int) -> timedelta:
    """How long an address waits after its ``failures``-th failure: 1 s, 2 s, 4 s … at most 15 min."""
    if failures <= ADDRESS_FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - ADDRESS_FREE_FAILURES - 1, 20)), ADDRESS_MAX_WAIT)


def record_login_failure(session: Session, attempt: LoginAttempt, *, now: datetime) -> None:
    """Count a failure for the login (its next attempts need a harder challenge) and the address
    (which backs off)."""
    _use_challenge(session, attempt, now)
    _count_failure(session, attempt.login_key, now, LOGIN_FORGET_AFTER)
    if attempt.address_key is not None:
        row = _count_failure(session, attempt.address_key, now, ADDRESS_FORGET_AFTER)
        wait = address_wait(row.failures)
        row.next_attempt_at = now + wait if wait else None
    session.flush()


def record_login_success(session: Session, attempt: LoginAttempt, *, password: str, now: datetime) -> Account:
    """Forget the login's and the address's failures and upgrade an outdated password hash."""
    assert attempt.account_id is not None
    _use_challenge(session, attempt, now)
    account = account_or_raise(session, attempt.account_id)
    for key in (attempt.login_key, attempt.address_key):
        row = session.get(LoginThrottle, key) if key else None
        if row is not None:
            session.delete(row)
    upgraded = rehash_if_outdated(account.password_hash, password)
    if upgraded is not None:
        account.password_hash = upgraded
    session.flush()
    return account


def purge_login_records(session: Session, *, now: datetime) -> int:
    """Delete used challenges past their expiry and counters old enough to be forgotten."""
    used = affected_rows(session.execute(delete(LoginChallengeUse).where(LoginChallengeUse.expires_at < now)))
    counters = affected_rows(session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < now - max(LOGIN_FORGET_AFTER, ADDRESS_FORGET_AFTER))))
    return int(used) + int(counters)
