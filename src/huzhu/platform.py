"""Wiring: settings → engine, sessions, plans, custodian and clock, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from huzhu.claims.evidence import EvidenceStore
from huzhu.clock import Clock, SystemClock
from huzhu.config import Settings, get_settings
from huzhu.custody.service import Custodian, SimulatedCustodian
from huzhu.db import ensure_database, make_engine, make_session_factory, unit_of_work
from huzhu.errors import InvalidInput, InvalidTransition
from huzhu.identity.sealing import VAULT_INFO_KEY, IdNumberVault
from huzhu.ledger.service import SHARD_IDS_INFO_KEY, open_custody_cash_accounts
from huzhu.memo import Memo
from huzhu.migrate import upgrade
from huzhu.plans.loader import load_plans
from huzhu.plans.schemas import Plan
from huzhu.sandbox.models import SandboxClock


class SandboxDbClock:
    """The sandbox clock: frozen at the stored time once an admin sets it, else the wall clock.
    Stored in the database so the API, the CLI and the job all see the same time."""

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
            raise InvalidInput("the clock needs a time with a timezone, e.g. 2016-02-17T10:00:00+08:00")
        with unit_of_work(self.factory) as session:
            row = session.get(SandboxClock, 1)
            if row is not None and moment < row.now:
                raise InvalidTransition(f"the sandbox clock only moves forward; it is {row.now.isoformat()}")
            if row is None:
                session.add(SandboxClock(id=1, now=moment))
            else:
                row.now = moment
        return moment

    def advance(self, delta: timedelta) -> datetime:
        if delta <= timedelta(0):
            raise InvalidInput("advance the clock by a positive duration")
        return self.set(self.now() + delta)


def business_now(clock: Clock, session: Session) -> datetime:
    """The business time, read in the caller's open session when the clock is kept in the database."""
    return clock.now_in(session) if isinstance(clock, SandboxDbClock) else clock.now()


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    read_factory: sessionmaker[Session]  # for requests that only read: never waits for a writer on SQLite
    plans: dict[str, Plan]
    custodian: Custodian
    clock: Clock  # business time: the sandbox clock in sandbox mode
    # Real time for security (token expiry, login lockouts): moving the sandbox clock by days must
    # neither log everyone out nor lift a lockout.
    wall_clock: Clock = field(default_factory=SystemClock)
    # The public figures (members, aid paid, charts) aggregate whole tables: computed at most every
    # two seconds per process and dropped by any write this process handles.
    public_figures: Memo = field(default_factory=lambda: Memo(ttl=2.0))

    def session(self):  # noqa: ANN201
        return unit_of_work(self.factory)

    @property
    def evidence(self) -> EvidenceStore:
        """The evidence documents, under the data directory (limits read from the settings each time)."""
        return EvidenceStore(self.settings.data_dir / "evidence", max_bytes=self.settings.max_upload_bytes)


def build_platform(settings: Settings | None = None, *, migrate: bool = True, clock: Clock | None = None) -> Platform:
    settings = settings or get_settings()
    if migrate:
        ensure_database(settings.database_url)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine, id_number_key=settings.id_number_key, data_dir=settings.data_dir)
    info = {VAULT_INFO_KEY: IdNumberVault(settings.id_number_key), SHARD_IDS_INFO_KEY: {}}
    factory = make_session_factory(engine, info=info)
    read_factory = make_session_factory(engine, read_only=True, info=info)
    plans = load_plans(settings.resolved_plans_dir)
    if migrate:
        # The custody cash shards exist before the first deposit, so concurrent first deposits do not race.
        with unit_of_work(factory) as session:
            open_custody_cash_accounts(session, now=SystemClock().now())
    if clock is None:
        clock = SandboxDbClock(factory, read_factory) if settings.sandbox else SystemClock()
    return Platform(settings=settings, engine=engine, factory=factory, read_factory=read_factory, plans=plans,
                    custodian=SimulatedCustodian(), clock=clock)


def database_is_empty(factory: sessionmaker[Session]) -> bool:
    from huzhu.members.models import Member

    with factory() as session:
        return session.scalar(select(Member.id).limit(1)) is None
