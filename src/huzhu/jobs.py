"""The scheduled job: move every due case forward (notice ended → shared → paid), each step in
its own transaction so a crash leaves whole steps, and a rerun picks up where it stopped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from huzhu.apportionment.models import RunCase
from huzhu.apportionment.payouts import pay_out_shared_cases
from huzhu.apportionment.service import Progress, apportion_due_cases, publish_share_roots
from huzhu.custody.models import Reconciliation
from huzhu.custody.service import Custodian, reconcile, refuse_without_bank
from huzhu.db import unit_of_work
from huzhu.failpoints import failpoint
from huzhu.notices.models import Case
from huzhu.plans.schemas import Plan
from huzhu.provable.service import build_liabilities


@dataclass
class JobReport:
    run_no: str | None = None
    cases_shared: list[str] = field(default_factory=list)
    cases_paid: list[str] = field(default_factory=list)
    roots_published: int = 0
    reconciliation_matched: bool | None = None
    liabilities_published: str | None = None  # the tree id of the day's liabilities tree, when built now


JOBS_LOCK = 7_000_2016  # any constant; names the PostgreSQL advisory lock of the job


def one_job_at_a_time(session: Session) -> None:
    """Two job runs at once (a double click, two workers, cron and an admin) take turns: the second
    waits, then finds the cases already moved on. SQLite already lets one writer in at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": JOBS_LOCK})


def run_jobs(
    factory: sessionmaker[Session], *, plans: Mapping[str, Plan], custodian: Custodian, now: datetime,
    actor_id: int | None = None, progress: Progress | None = None,
) -> JobReport:
    refuse_without_bank(custodian)  # production without HUZHU_CUSTODY_BANK: nothing is run (it would pay out)
    report = JobReport()
    with unit_of_work(factory) as session:
        one_job_at_a_time(session)
        run = apportion_due_cases(session, plans=plans, now=now, actor_id=actor_id, progress=progress)
        if run is not None:
            report.run_no = run.run_no
            report.cases_shared = list(session.scalars(
                select(Case.case_no).join(RunCase, RunCase.case_id == Case.id).where(RunCase.run_id == run.id)))
        failpoint("run.before_commit")
    failpoint("run.after_commit")
    if progress:
        progress("paying out shared cases")
    with unit_of_work(factory) as session:
        one_job_at_a_time(session)
        report.cases_paid = [c.case_no for c in pay_out_shared_cases(session, custodian, plans=plans, now=now)]
        failpoint("payout.before_commit")
    failpoint("payout.after_commit")
    if progress:
        progress("publishing share proofs")
    with unit_of_work(factory) as session:
        one_job_at_a_time(session)
        report.roots_published = publish_share_roots(session, now=now)
        failpoint("proofs.before_commit")
    failpoint("proofs.after_commit")
    # With a bank, its own camt.053 statements are reconciled by huzhu.banking.sync instead.
    if not getattr(custodian, "statements_from_bank", False):
        with unit_of_work(factory) as session:
            one_job_at_a_time(session)
            last = session.scalar(select(Reconciliation).order_by(Reconciliation.id.desc()).limit(1))
            start = last.performed_at if last else datetime(1970, 1, 1, tzinfo=now.tzinfo)
            if start < now:
                # The statement closes a second after now so that what was booked at ``now`` is on it.
                end = now + timedelta(seconds=1)
                report.reconciliation_matched = reconcile(session, custodian, start=start, end=end, now=now).matched
            failpoint("reconcile.before_commit")
        failpoint("reconcile.after_commit")
    if progress:
        progress("publishing the liabilities tree")
    with unit_of_work(factory) as session:
        one_job_at_a_time(session)
        tree = build_liabilities(session, now=now)
        report.liabilities_published = tree.tree_id if tree is not None else None
        failpoint("liabilities.before_commit")
    failpoint("liabilities.after_commit")
    return report
