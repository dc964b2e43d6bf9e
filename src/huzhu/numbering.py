"""Gapless public numbers (run R000001, case HZ000001, claim HZC00000001, public record 0, 1, 2 …).

Row ids are not gapless: PostgreSQL burns a sequence value on every rolled-back insert, so a
number taken from an id could skip, and a skipped public number looks like a hidden case. Each
kind of number is instead one row of ``number_sequences``, moved forward in the caller's
transaction: the row stays locked until commit (numbers of one kind are taken one transaction at a
time) and a rollback takes the number back with everything else.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from huzhu.db import Base


class NumberSequence(Base):
    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger)


def next_number(session: Session, name: str) -> int:
    """The next number of ``name`` (1, 2, 3 … with no gaps among committed transactions)."""
    return int(session.execute(text(
        "INSERT INTO number_sequences (name, last_value) VALUES (:name, 1) "
        "ON CONFLICT (name) DO UPDATE SET last_value = number_sequences.last_value + 1 "
        "RETURNING last_value"), {"name": name}).scalar_one())
