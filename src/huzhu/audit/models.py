"""The record of staff reads of personal data."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.accounts.models import Role
from huzhu.db import Base, BigId, EnumString, UtcDateTime, one_of


class ReadSubject(StrEnum):
    """What kind of personal data a staff member read."""

    CLAIM = "claim"  # a claim: who, what happened, the beneficiary
    EVIDENCE = "evidence"  # a claim's documents (the list or a file)
    INVESTIGATION_REPORT = "investigation_report"
    MEMBER = "member"  # a member's person: name, ID number (masked), birth date, balance
    MEMBER_LEDGER = "member_ledger"  # a member's money in and out
    OBJECTION = "objection"  # an objection with the objector
    PAYEE_CHANGE = "payee_change"  # proposed and past payees of a claim


class Channel(StrEnum):
    API = "api"
    WEB = "web"


class PersonalDataRead(Base):
    __tablename__ = "personal_data_reads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    role: Mapped[Role] = mapped_column(EnumString(Role, 16))
    subject: Mapped[ReadSubject] = mapped_column(EnumString(ReadSubject, 24))
    # The ids read (a list page reads many): claim, evidence, member, report, objection or change ids.
    subject_ids: Mapped[list[int]] = mapped_column(JSON)
    channel: Mapped[Channel] = mapped_column(EnumString(Channel, 8))
    path: Mapped[str] = mapped_column(String(300))
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(one_of("subject", ReadSubject), name="subject_known"),
        CheckConstraint(one_of("channel", Channel), name="channel_known"),
        CheckConstraint(one_of("role", Role), name="role_known"),
        Index("ix_personal_data_reads_account_id", "account_id", "id"),
    )
