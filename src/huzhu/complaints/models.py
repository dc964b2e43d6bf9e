"""A member's complaint and the platform's answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, EnumString, UtcDateTime, one_of


class ComplaintTopic(StrEnum):
    """What a complaint is about (staff sort their queue by it)."""

    CLAIM = "claim"
    MONEY = "money"
    OBJECTION = "objection"
    PRIVACY = "privacy"
    SERVICE = "service"
    OTHER = "other"


class ComplaintStatus(StrEnum):
    """open → answered (staff wrote back) → closed (the member is done with it)."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_no: Mapped[str] = mapped_column(String(24), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    topic: Mapped[ComplaintTopic] = mapped_column(EnumString(ComplaintTopic, 12))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[ComplaintStatus] = mapped_column(EnumString(ComplaintStatus, 10), default=ComplaintStatus.OPEN)
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(one_of("status", ComplaintStatus), name="status_known"),
        CheckConstraint(one_of("topic", ComplaintTopic), name="topic_known"),
        Index("ix_complaints_status_filed", "status", "filed_at"),
    )
