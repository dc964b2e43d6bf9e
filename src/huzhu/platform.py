"""The platform as the adapters see it: settings, database, plans, custodian and clocks, built once
per process by the composition root (``huzhu.app.build_platform``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huzhu.banking.link import BankLink
from huzhu.claims.evidence import EvidenceStore
from huzhu.clock import Clock, SystemClock
from huzhu.config import Settings
from huzhu.custody.service import Custodian
from huzhu.db import unit_of_work
from huzhu.memo import Memo
from huzhu.plans.schemas import Plan
from huzhu.sealing.keyring import keyring_for_dialect

T = TypeVar("T")


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    read_factory: sessionmaker[Session]  # for requests that only read: never waits for a writer on SQLite
    plans: dict[str, Plan]
    custodian: Custodian
    bank: BankLink | None  # the custodian bank service, when configured (huzhu.banking.link)
    clock: Clock  # business time: the sandbox clock in sandbox mode
    # Real time for security (token expiry, login lockouts): moving the sandbox clock by days must
    # neither log everyone out nor lift a lockout.
    wall_clock: Clock = field(default_factory=SystemClock)
    # The public figures (members, aid paid, charts) aggregate whole tables: computed at most every
    # two seconds per process and dropped by any write this process handles.
    public_figures: Memo = field(default_factory=lambda: Memo(ttl=2.0))

    def session(self):  # noqa: ANN201
        return unit_of_work(self.factory)

    def cached_figure(self, key: str, compute: Callable[[Session], T]) -> T:
        """A public aggregate computed in its own read session, at most every few seconds per process
        (one thread computes while the others wait for its result)."""
        def fresh() -> T:
            with self.read_factory() as session:
                return compute(session)

        return self.public_figures.get(key, fresh)

    @property
    def evidence(self) -> EvidenceStore:
        """The evidence documents, under the data directory (limits read from the settings each time)."""
        return EvidenceStore(self.settings.data_dir / "evidence", max_bytes=self.settings.max_upload_bytes,
                             keyring=keyring_for_dialect(self.engine.dialect))
