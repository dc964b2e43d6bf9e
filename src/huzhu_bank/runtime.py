"""One running bank: settings, its database, clock and key, opened once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huzhu.clock import Clock, SystemClock
from huzhu.db import make_engine, make_session_factory, unit_of_work
from huzhu_bank.models import BankBase
from huzhu_bank.service import BankSettings, open_bank
from huzhu_bank.signing import BankKey, load_or_create_key


@dataclass(frozen=True)
class BankRuntime:
    settings: BankSettings
    engine: Engine
    writer: sessionmaker[Session]
    reader: sessionmaker[Session]
    clock: Clock
    key: BankKey


def start_bank(settings: BankSettings, *, clock: Clock | None = None) -> BankRuntime:
    """Create the bank's tables if needed (``metadata.create_all``), its key and its pool account."""
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    BankBase.metadata.create_all(engine)
    key = load_or_create_key(settings.key_path, settings.key_name)
    writer = make_session_factory(engine)
    with unit_of_work(writer) as session:
        open_bank(session, settings, now=clock.now())
    return BankRuntime(settings=settings, engine=engine, writer=writer,
                       reader=make_session_factory(engine, read_only=True), clock=clock, key=key)
