"""Tables the HTTP API owns: stored responses for ``Idempotency-Key`` replays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime
from huzhu.sealing.types import SealedText


class IdempotencyRecord(Base):
    """The first response to a money-moving request with an ``Idempotency-Key`` (per account)."""

    __tablename__ = "api_idempotency_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(SealedText())  # may name a payee: sealed at rest
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("account_id", "key"),)
