"""Logins: who may act on the platform, in which role, their sessions, and the failed-login counters."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from huzhu.db import Base, BigId, EnumString, UtcDateTime, one_of
from huzhu.sealing.keyring import Keyring, keyring_for_dialect
from huzhu.sealing.types import SealedText


class Role(StrEnum):
    """Who an account acts as: members manage their family; the staff roles act on claims and runs."""

    MEMBER = "member"
    INVESTIGATOR = "investigator"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    AUDITOR = "auditor"


STAFF_ROLES = (Role.INVESTIGATOR, Role.REVIEWER, Role.ADMIN, Role.AUDITOR)


class Account(Base):
    """A login. Members manage their family's members; staff roles act on claims and runs."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The phone and the name are sealed at rest (huzhu.sealing); a keyed digest of the phone, set
    # on every write (below), finds the account at login and keeps phones unique.
    phone: Mapped[str | None] = mapped_column(SealedText())
    phone_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(SealedText())
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(EnumString(Role, 16), default=Role.MEMBER)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("phone IS NOT NULL OR email IS NOT NULL", name="has_login"),
        CheckConstraint(one_of("role", Role), name="role_known"),
    )


def phone_digest(keyring: Keyring, phone: str | None) -> str | None:
    return keyring.digest("phone", phone) if phone is not None else None


@event.listens_for(Account, "before_insert")
def _digest_new_phone(_mapper: Mapper[Account], connection: Connection, account: Account) -> None:
    account.phone_digest = phone_digest(keyring_for_dialect(connection.dialect), account.phone)


@event.listens_for(Account, "before_update")
def _digest_changed_phone(_mapper: Mapper[Account], connection: Connection, account: Account) -> None:
    if inspect(account).attrs.phone.history.has_changes():
        account.phone_digest = phone_digest(keyring_for_dialect(connection.dialect), account.phone)


class LoginThrottle(Base):
    """Failed-login counters: per client address (``addr:…``, which waits ``next_attempt_at``, an
    exponential backoff) and per login (``login:…``, whose count sets the step-up challenge's
    difficulty). A count is forgotten once its last failure is old enough (``accounts.service``)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginChallengeUse(Base):
    """A step-up challenge that was used (each works once); kept until it would have expired."""

    __tablename__ = "login_challenge_uses"

    challenge_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionKind(StrEnum):
    """A browser's session (a cookie) or an API client's (short access tokens and a refresh token)."""

    WEB = "web"
    API = "api"


class SessionEnd(StrEnum):
    """Why a session was ended before it expired."""

    LOGGED_OUT = "logged_out"
    LOGGED_OUT_EVERYWHERE = "logged_out_everywhere"
    PASSWORD_CHANGED = "password_changed"
    REFRESH_REUSED = "refresh_reused"


class LoginSession(Base):
    """One login: what a cookie or an access token stands for, ended here (server-side revocation).

    A web session's cookie is ``<id>.<secret>`` and the row keeps the secret's SHA-256 only; an API
    session's access tokens name the row and its refresh tokens are ``RefreshToken`` rows. Every
    request reads its session, so an ended session stops working at once.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[SessionKind] = mapped_column(EnumString(SessionKind, 8))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[SessionEnd | None] = mapped_column(EnumString(SessionEnd, 24))

    __table_args__ = (
        CheckConstraint(one_of("kind", SessionKind), name="kind_known"),
        CheckConstraint(f"end_reason IS NULL OR {one_of('end_reason', SessionEnd)}", name="end_reason_known"),
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended_with_reason"),
    )


class RefreshToken(Base):
    """An API session's refresh token (its SHA-256): used once, then replaced by the next. A token
    used twice means it was copied: the whole session is ended (reuse detection)."""

    __tablename__ = "login_refresh_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("login_sessions.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_login_refresh_tokens_session_id", "session_id"),)
