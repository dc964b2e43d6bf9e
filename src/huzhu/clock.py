"""Time comes from here, never from ``datetime.now()`` in domain code.

``SystemClock`` reads the wall clock; ``FixedClock`` is a settable test clock (the sandbox
clock of the API and the demo). Every timestamp is timezone-aware UTC; the business day
(for in-force dates, ages, notice ends) is the calendar day in China Standard Time.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Protocol

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def now_in(self, session: Any) -> datetime:
        """The time as seen inside an open database session (the sandbox clock is kept in the
        database; the others ignore the session)."""
        ...


def business_date(moment: datetime) -> date:
    """The calendar day in China at ``moment``: what "joined on" and "in force from" mean."""
    return moment.astimezone(CHINA_TZ).date()


def start_of_business_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ).astimezone(UTC)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_in(self, session: Any) -> datetime:
        return self.now()


class FixedClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def now_in(self, session: Any) -> datetime:
        return self.now()

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        with self._lock:
            self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now
