"""The published Merkle-sum trees: one per shared case (kind "share") and one per day ("liabilities")."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime


class SumTree(Base):
    """A published root (digest, sum, leaf count); its levels are stored as a level file under the
    platform's data directory (``provable.store``), so a proof takes a few reads."""

    __tablename__ = "sum_trees"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "share" or "liabilities"
    tree_id: Mapped[str] = mapped_column(String(64))  # the case number, or liabilities-YYYY-MM-DD
    run_case_id: Mapped[int | None] = mapped_column(ForeignKey("run_cases.id"))
    business_date: Mapped[date | None] = mapped_column(Date)
    root_hash: Mapped[str] = mapped_column(String(64))
    leaf_count: Mapped[int] = mapped_column(BigInteger)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    inputs_sha256: Mapped[str | None] = mapped_column(String(64))  # the run file's SHA-256 (share trees)
    members_count: Mapped[int] = mapped_column(BigInteger)  # member leaves (liabilities) / sharers (share)
    pools_count: Mapped[int] = mapped_column(BigInteger)  # case-pool leaves (liabilities)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('share', 'liabilities')", name="kind_known"),
        CheckConstraint("total_fen >= 0 AND leaf_count >= 0", name="not_negative"),
        UniqueConstraint("kind", "tree_id"),
    )
