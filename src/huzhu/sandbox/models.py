"""The sandbox's settable clock, shared by the API and the CLI (one row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, UtcDateTime


class SandboxClock(Base):
    __tablename__ = "sandbox_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    now: Mapped[datetime] = mapped_column(UtcDateTime)
