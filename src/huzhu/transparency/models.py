"""The public record: an append-only, hash-linked log whose leaves form an RFC 6962 Merkle tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime


class PublicRecord(Base):
    __tablename__ = "public_records"

    # Leaf index in the Merkle tree is id − 1 (ids are dense: one writer, inside the transaction).
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # case_noticed, case_shared, run, payout, ...
    subject: Mapped[str] = mapped_column(String(40), index=True)  # e.g. case number
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, no personal data
    leaf_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))  # hash chain: leaf hash of the previous record
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
