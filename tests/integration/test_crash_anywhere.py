"""Crash anywhere: the job is SIGKILLed at every failpoint it passes, restarted, and must end with
every invariant holding and exactly the books of a run that never crashed.

The scenario is the demo's story on a pool of 200 members, stopped when both notices have ended:
the job shares two cases (run, bulk charging), pays them out, refunds the deceased member's
balance to the estate, publishes the share proofs and reconciles with the custodian. A traced run
lists every failpoint pass; then, for each pass N, ``huzhu jobs run`` is started in a subprocess
armed with ``*=kill@N``, must die by SIGKILL, and is run again without failpoints.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from databases import BACKENDS, POSTGRES_URL
from huzhu.config import Settings
from huzhu.crash import JOB_TIME, build_scenario, check_after_restart, fingerprint

REPO = Path(__file__).resolve().parents[2]
SRC = str(REPO / "src")
MEMBERS = 200

# Every commit boundary of the job and the places between its steps; the traced run must pass them all.
EXPECTED = {
    "run.share_debits_written", "run.case_shared", "run.suspended", "run.before_commit", "run.after_commit",
    "payout.instruction_recorded", "payout.instructed", "payout.settled", "payout.before_commit",
    "payout.after_commit", "refund.instruction_recorded", "refund.estate_instructed", "refund.estate_settled",
    "proofs.root_published", "proofs.before_commit", "proofs.after_commit",
    "reconcile.statement_read", "reconcile.before_commit", "reconcile.after_commit",
}


class Databases:
    """A template database holding the scenario, and copies of it (a file copy on SQLite,
    ``CREATE DATABASE … TEMPLATE`` on PostgreSQL)."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend, self.folder = backend, folder
        self.made: list[str] = []
        if backend == "sqlite":
            self.template = f"sqlite:///{folder / 'template.sqlite'}"
        else:
            self.admin = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
            self.template = self._create(f"huzhu_crash_tpl_{uuid.uuid4().hex[:8]}", None)

    def _create(self, name: str, template: str | None) -> str:
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        engine.dispose()
        self.made.append(name)
        return self.admin.set(database=name).render_as_string(hide_password=False)

    def copy(self) -> str:
        if self.backend == "sqlite":
            target = self.folder / f"copy-{uuid.uuid4().hex[:8]}.sqlite"
            shutil.copyfile(self.folder / "template.sqlite", target)
            return f"sqlite:///{target}"
        return self._create(f"huzhu_crash_{uuid.uuid4().hex[:8]}", make_url(self.template).database)

    def drop(self, url: str) -> None:
        if self.backend == "sqlite":
            Path(make_url(url).database or "").unlink(missing_ok=True)
            return
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        engine.dispose()

    def close(self) -> None:
        if self.backend == "postgresql":
            for name in self.made:
                self.drop(self.admin.set(database=name).render_as_string(hide_password=False))


def job(url: str, data_dir: Path, *, armed: str = "", trace: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``huzhu jobs run`` in its own process, as cron would start it."""
    env = {**os.environ, "PYTHONPATH": SRC, "HUZHU_MODE": "sandbox", "HUZHU_DATABASE_URL": url,
           "HUZHU_DATA_DIR": str(data_dir), "HUZHU_PLANS_DIR": str(REPO / "plans"), "HUZHU_FAILPOINTS": armed}
    env.pop("HUZHU_FAILPOINTS_TRACE", None)
    if trace is not None:
        env["HUZHU_FAILPOINTS_TRACE"] = str(trace)
    return subprocess.run([sys.executable, "-m", "huzhu.cli", "jobs", "run", "--now", JOB_TIME], env=env,
                          capture_output=True, text=True, timeout=300, cwd=data_dir)


@contextmanager
def session_on(url: str) -> Iterator[Session]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Databases, Path]]:
    databases = Databases(request.param, tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    try:
        build_scenario(Settings(mode="sandbox", database_url=databases.template, data_dir=data_dir,
                                plans_dir=REPO / "plans"), members=MEMBERS)
        yield databases, data_dir
    finally:
        databases.close()


def test_the_job_survives_a_kill_at_every_failpoint(world: tuple[Databases, Path], tmp_path: Path) -> None:
    databases, data_dir = world
    # The run that never crashes, traced: its books are what every crashed run must end with.
    reference_url, trace = databases.copy(), tmp_path / "trace"
    done = job(reference_url, data_dir, trace=trace)
    assert done.returncode == 0, done.stderr
    passes = trace.read_text().split()
    assert EXPECTED <= set(passes), f"failpoints never passed: {sorted(EXPECTED - set(passes))}"
    with session_on(reference_url) as s:
        assert check_after_restart(s) == []
        expected = fingerprint(s)
    assert expected["runs"] and all(status == "paid" for _, status, *_ in expected["cases"])
    databases.drop(reference_url)

    failures: dict[str, list[str]] = {}
    for n, name in enumerate(passes, start=1):
        url = databases.copy()
        killed = job(url, data_dir, armed=f"*=kill@{n}")
        assert killed.returncode == -signal.SIGKILL, f"pass {n} ({name}): {killed.returncode} {killed.stderr}"
        with session_on(url) as s:  # after the crash, before the restart: whole steps or nothing
            problems = check_after_restart(s, resumed=False)
        restarted = job(url, data_dir)
        assert restarted.returncode == 0, f"pass {n} ({name}): restart failed: {restarted.stderr}"
        with session_on(url) as s:
            problems += check_after_restart(s)
            got = fingerprint(s)
        problems += [f"{key} differs from the run that never crashed" for key in expected if got[key] != expected[key]]
        if problems:
            failures[f"{n}:{name}"] = problems
        databases.drop(url)
    assert failures == {}
    assert len(passes) >= len(EXPECTED)
