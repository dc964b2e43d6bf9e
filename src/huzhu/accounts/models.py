"""Logins: who may act on the platform, in which role, and the failed-login counters."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, EnumString, UtcDateTime, one_of


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
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(EnumString(Role, 16), default=Role.MEMBER)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("phone IS NOT NULL OR email IS NOT NULL", name="has_login"),
        CheckConstraint(one_of("role", Role), name="role_known"),
    )


class LoginThrottle(Base):
    """Failed-login counters per account key and per client address (rate limiting)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
