"""The public record: an append-only, hash-linked log whose leaves form an RFC 6962 Merkle tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime


class PublicRecord(Base):
    __tablename__ = "public_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The record's leaf index in the Merkle tree: gapless from 0, taken when the record is appended
    # (``numbering``), never from the row id.
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # case_noticed, case_shared, run, payout, ...
    subject: Mapped[str] = mapped_column(String(40), index=True)  # e.g. case number
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, no personal data
    leaf_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))  # hash chain: leaf hash of the previous record
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
