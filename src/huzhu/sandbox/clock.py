"""The sandbox clock: business time an admin can move forward, kept in the database so the API,
the command line and the jobs of every process see the same time. Frozen at the stored time once
set; the wall clock until then. Production has no sandbox clock (``clock.SystemClock``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from huzhu.clock import SystemClock
from huzhu.db import unit_of_work
from huzhu.errors import ErrorCode, InvalidInput, InvalidTransition
from huzhu.sandbox.models import SandboxClock


class ClockError(ErrorCode):
    NEEDS_TIMEZONE = ("sandbox.clock_needs_timezone",
                      "the clock needs a time with a timezone, e.g. 2016-02-17T10:00:00+08:00")
    ONLY_FORWARD = ("sandbox.clock_only_forward", "the sandbox clock only moves forward; it is %(now)s")
    POSITIVE = ("sandbox.clock_positive", "advance the clock by a positive duration")


class SandboxDbClock:
    def __init__(self, factory: sessionmaker[Session], read_factory: sessionmaker[Session] | None = None) -> None:
        self.factory = factory
        self.read_factory = read_factory or factory
        self.system = SystemClock()

    def now(self) -> datetime:
        with self.read_factory() as session:
            return self.now_in(session)

    def now_in(self, session: Session) -> datetime:
        """The time, read in a session the caller already has open (one query, no extra connection)."""
        row = session.get(SandboxClock, 1)
        return row.now if row is not None else self.system.now()

    def set(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise InvalidInput(ClockError.NEEDS_TIMEZONE)
        with unit_of_work(self.factory) as session:
            row = session.get(SandboxClock, 1)
            if row is not None and moment < row.now:
                raise InvalidTransition(ClockError.ONLY_FORWARD, now=row.now)
            if row is None:
                session.add(SandboxClock(id=1, now=moment))
            else:
                row.now = moment
        return moment

    def advance(self, delta: timedelta) -> datetime:
        if delta <= timedelta(0):
            raise InvalidInput(ClockError.POSITIVE)
        return self.set(self.now() + delta)
