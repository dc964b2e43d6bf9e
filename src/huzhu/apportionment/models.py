"""Apportionment runs (分摊批次) and, per case, the published result of sharing it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime


class ApportionmentRun(Base):
    __tablename__ = "apportionment_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_no: Mapped[str] = mapped_column(String(24), unique=True)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cases_count: Mapped[int] = mapped_column(Integer)
    sharing_members: Mapped[int] = mapped_column(BigInteger)  # distinct members charged in this run
    total_benefit_fen: Mapped[int] = mapped_column(BigInteger)
    total_collected_fen: Mapped[int] = mapped_column(BigInteger)
    total_shortfall_fen: Mapped[int] = mapped_column(BigInteger)
    suspended_enrollments: Mapped[int] = mapped_column(BigInteger)
    triggered_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class RunCase(Base):
    """How one case was shared: the equal share (level), who paid a leftover fen, the shortfall."""

    __tablename__ = "run_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("apportionment_runs.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    sharing_members: Mapped[int] = mapped_column(BigInteger)
    paying_members: Mapped[int] = mapped_column(BigInteger)
    benefit_fen: Mapped[int] = mapped_column(BigInteger)
    cap_fen: Mapped[int] = mapped_column(BigInteger)
    level_fen: Mapped[int] = mapped_column(BigInteger)  # the equal share before leftover fen
    leftover_fen: Mapped[int] = mapped_column(BigInteger)  # members who pay one fen more
    members_limited_by_balance: Mapped[int] = mapped_column(BigInteger)
    collected_fen: Mapped[int] = mapped_column(BigInteger)
    shortfall_fen: Mapped[int] = mapped_column(BigInteger)
    leftover_pivot_member_id: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"))
    # RFC 6962 root over the (member, share) leaves, published by the step after the run.
    shares_root: Mapped[str | None] = mapped_column(String(64))
    # The leftover-fen rule the case was shared under (huzhu_verify.leftover.RULES): 1 by member number, 2 by pseudonym.
    rule_version: Mapped[int] = mapped_column(Integer, server_default="1")
