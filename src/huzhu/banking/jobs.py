"""The scheduled job with a custodian bank: what the bank said since the last run is read first
(payments booked or rejected, deposits), then the job runs (its payouts queue pain.001 messages),
then the queued messages go out and the bank's answers and statements are read. The same for
``huzhu jobs run``, the admin's "run the jobs" button and ``POST /api/v1/runs``.

A bank that does not answer does not stop the job: the sync's error is reported and what is queued
stays queued for the next run (see :func:`huzhu.banking.sync.sync`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from huzhu.apportionment.service import Progress
from huzhu.banking.sync import SyncReport, open_exceptions, sync
from huzhu.custody.bank_client import BankConnector
from huzhu.custody.service import Custodian, refuse_without_bank
from huzhu.jobs import JobReport, run_jobs
from huzhu.plans.schemas import Plan


@dataclass
class BankSyncSummary:
    """Both exchanges of one job run with the bank, added up."""

    references_opened: int = 0
    sent: int = 0
    notifications: int = 0
    deposits_booked: int = 0
    statements: list[str] = field(default_factory=list)
    exceptions_waiting: int = 0
    error: str = ""

    def add(self, report: SyncReport) -> None:
        self.references_opened += report.references_opened
        self.sent += report.sent
        self.notifications += report.notifications
        self.deposits_booked += report.deposits_booked
        self.statements.extend(report.statements)
        self.error = self.error or report.error


def sync_with_bank(factory: sessionmaker[Session], connector: BankConnector, *, now: datetime,
                   plans: Mapping[str, Plan], summary: BankSyncSummary | None = None) -> BankSyncSummary:
    summary = summary or BankSyncSummary()
    summary.add(sync(factory, connector, now=now, plans=plans))
    with factory() as session:
        summary.exceptions_waiting = open_exceptions(session)
    return summary


def run_jobs_with_bank(factory: sessionmaker[Session], *, plans: Mapping[str, Plan], custodian: Custodian,
                       connector: BankConnector | None, now: datetime, actor_id: int | None = None,
                       progress: Progress | None = None) -> tuple[JobReport, BankSyncSummary | None]:
    """:func:`huzhu.jobs.run_jobs` between two exchanges with the bank (when one is configured)."""
    refuse_without_bank(custodian)
    if connector is None:
        return run_jobs(factory, plans=plans, custodian=custodian, now=now, actor_id=actor_id,
                        progress=progress), None
    if progress:
        progress("reading what the custodian bank said")
    summary = sync_with_bank(factory, connector, now=now, plans=plans)
    report = run_jobs(factory, plans=plans, custodian=custodian, now=now, actor_id=actor_id, progress=progress)
    if progress:
        progress("sending the payments to the custodian bank and reading its answers")
    sync_with_bank(factory, connector, now=now, plans=plans, summary=summary)
    return report, summary
