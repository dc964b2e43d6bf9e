"""Sessions: a login is a row, and ending the row ends the login everywhere at once.

- A **web** session is a cookie ``<id>.<secret>``; the row keeps the secret's SHA-256 and lasts
  ``WEB_SESSION_TTL`` at most.
- An **API** session hands out short access tokens (signed by the HTTP layer, naming the session;
  ``ACCESS_TOKEN_TTL``) and a refresh token, used once: refreshing returns a new access token and
  a new refresh token (rotation). A refresh token presented a second time was copied — by an
  attacker or by a confused client — so the whole session is ended and both must log in again
  (reuse detection). The session lasts ``API_SESSION_TTL`` at most, however often it is refreshed.
- Logging out ends the session; "log out everywhere" and a password change end every session of
  the account. Every request reads its session, so an ended one is refused on its next request.

Times are the wall clock's (the caller passes ``platform.wall_clock.now()``): moving the sandbox
clock must neither end nor prolong a session. Services here only flush.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from huzhu.accounts.errors import AccountError
from huzhu.accounts.models import Account, LoginSession, RefreshToken, SessionEnd, SessionKind
from huzhu.db import affected_rows
from huzhu.errors import DomainError

WEB_SESSION_TTL = timedelta(hours=12)
API_SESSION_TTL = timedelta(days=30)
ACCESS_TOKEN_TTL = timedelta(minutes=15)
# Ended and expired sessions are kept this long (who was logged in when), then purged.
ENDED_SESSION_RETENTION = timedelta(days=30)


class SessionRefused(DomainError):
    status_code = 401
    type_slug = "unauthorized"
    title = "Authentication required"


class ReuseDetected(SessionRefused):
    """A refresh token was presented twice: the caller refuses the request and ends the session
    in a transaction of its own (``refresh_reused``), so the end is kept although the request fails."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Started:
    """A new session and the secret only its holder gets: the web cookie's value, or the API's
    first refresh token."""

    session: LoginSession
    secret: str


def start_session(session: Session, *, account_id: int, kind: SessionKind, now: datetime) -> Started:
    secret = _new_secret()
    ttl = WEB_SESSION_TTL if kind == SessionKind.WEB else API_SESSION_TTL
    row = LoginSession(account_id=account_id, kind=kind, created_at=now, expires_at=now + ttl,
                       secret_hash=_digest(secret) if kind == SessionKind.WEB else None)
    session.add(row)
    session.flush()
    if kind == SessionKind.WEB:
        return Started(session=row, secret=f"{row.id}.{secret}")
    return Started(session=row, secret=_issue_refresh(session, row, now=now))


def _issue_refresh(session: Session, row: LoginSession, *, now: datetime) -> str:
    token = _new_secret()
    session.add(RefreshToken(session_id=row.id, token_hash=_digest(token), issued_at=now))
    session.flush()
    return token


def _live(row: LoginSession | None, now: datetime) -> LoginSession | None:
    return row if row is not None and row.ended_at is None and row.expires_at > now else None


def web_session(session: Session, cookie: str | None, *, now: datetime) -> LoginSession | None:
    """The live web session a cookie stands for; ``None`` for anything else (never raises)."""
    session_id, _, secret = (cookie or "").partition(".")
    if not (session_id.isascii() and session_id.isdigit() and len(session_id) <= 18 and secret):
        return None
    row = session.get(LoginSession, int(session_id))
    if row is None or row.kind != SessionKind.WEB or row.secret_hash is None:
        return None
    if not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return _live(row, now)


def api_session(session: Session, session_id: int, *, account_id: int, now: datetime) -> LoginSession | None:
    """The live API session an access token names (it must be the token's account's)."""
    row = session.get(LoginSession, session_id)
    if row is None or row.kind != SessionKind.API or row.account_id != account_id:
        return None
    return _live(row, now)


def refresh(session: Session, token: str, *, now: datetime) -> Started:
    """Use a refresh token once: a new refresh token for the same session. A token used before
    ends the session (``REFRESH_REUSED``) and is refused; so is an unknown one."""
    found = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _digest(token or "")))
    if found is None:
        raise SessionRefused(AccountError.REFRESH_INVALID)
    row = session.get(LoginSession, found.session_id)
    if _live(row, now) is None:
        raise SessionRefused(AccountError.REFRESH_INVALID)
    assert row is not None
    # Claimed in one statement: of two requests with the same token, one wins and one is a reuse.
    claimed = affected_rows(session.execute(
        update(RefreshToken).where(RefreshToken.id == found.id, RefreshToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    ))
    if claimed != 1:
        raise ReuseDetected(AccountError.REFRESH_REUSED)
    return Started(session=row, secret=_issue_refresh(session, row, now=now))


def refresh_reused(session: Session, token: str, *, now: datetime) -> None:
    """End the session of a refresh token presented again (``ReuseDetected``)."""
    session_id = session.scalar(select(RefreshToken.session_id).where(RefreshToken.token_hash == _digest(token)))
    if session_id is not None:
        end_session(session, session_id, reason=SessionEnd.REFRESH_REUSED, now=now)


def end_session(session: Session, session_id: int, *, reason: SessionEnd, now: datetime) -> bool:
    """End one session (if still open); returns whether it was open."""
    ended = affected_rows(session.execute(
        update(LoginSession).where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason).execution_options(synchronize_session=False)
    ))
    return ended == 1


def end_all_sessions(session: Session, account_id: int, *, reason: SessionEnd, now: datetime) -> int:
    """End every open session of an account; returns how many there were."""
    return int(affected_rows(session.execute(
        update(LoginSession).where(LoginSession.account_id == account_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason).execution_options(synchronize_session=False)
    )))


def open_sessions(session: Session, account_id: int, *, now: datetime) -> list[LoginSession]:
    return list(session.scalars(
        select(LoginSession).where(LoginSession.account_id == account_id, LoginSession.ended_at.is_(None),
                                   LoginSession.expires_at > now).order_by(LoginSession.id)))


def set_password_hash(session: Session, account_id: int, password_hash: str, *, now: datetime) -> int:
    """A new password (already hashed, outside any transaction) ends every session of the account;
    returns how many were ended."""
    account = session.get(Account, account_id)
    assert account is not None
    account.password_hash = password_hash
    session.flush()
    return end_all_sessions(session, account_id, reason=SessionEnd.PASSWORD_CHANGED, now=now)


def purge_sessions(session: Session, *, now: datetime) -> int:
    """Delete sessions ended or expired more than ``ENDED_SESSION_RETENTION`` ago, with their
    refresh tokens; returns how many sessions."""
    cutoff = now - ENDED_SESSION_RETENTION
    old = select(LoginSession.id).where(or_(LoginSession.ended_at < cutoff, LoginSession.expires_at < cutoff))
    session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(old))
                    .execution_options(synchronize_session=False))
    return int(affected_rows(session.execute(delete(LoginSession).where(LoginSession.id.in_(old.scalar_subquery()))
                               .execution_options(synchronize_session=False))))
