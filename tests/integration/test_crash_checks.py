"""The crash checks catch what a crash between commits could leave: each damage below, done by hand
to the books of a finished job, is reported by ``check_after_restart`` (and the fingerprint moves)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from huzhu.app import build_platform
from huzhu.config import Settings
from huzhu.crash import JOB_TIME, build_scenario, check_after_restart, fingerprint
from huzhu.jobs import run_jobs
from huzhu.platform import Platform

DAMAGE = {
    # a member's share leg lost: the transfer unbalanced, the run's count of payers wrong
    "share leg lost": ("DELETE FROM ledger_entries WHERE id = (SELECT MIN(e.id) FROM ledger_entries e "
                       "JOIN ledger_transfers t ON t.id = e.transfer_id WHERE t.kind = 'share' AND e.direction = 1)",
                       "members charged"),
    # a member charged twice for one case
    # a case shared twice (both share transfers now name one case): its members charged twice
    "charged twice": ("UPDATE ledger_transfers SET case_id = (SELECT MIN(id) FROM cases) WHERE kind = 'share'",
                      "charged 2 times"),
    "run number skipped": ("UPDATE apportionment_runs SET run_no = 'R000002'", "run numbers not gapless"),
    "run sequence ahead": ("UPDATE number_sequences SET last_value = last_value + 1 WHERE name = 'run'",
                           "run sequence at"),
    "public record lost": ("DELETE FROM public_records WHERE leaf_index = 3", "public record indexes not gapless"),
    "paid and unpaid": ("UPDATE cases SET status = 'shared' WHERE id = (SELECT MIN(id) FROM cases)",
                        "payout is posted"),
    "pending left": ("UPDATE ledger_transfers SET pending_id = NULL WHERE pending_id IS NOT NULL AND id = "
                     "(SELECT MIN(id) FROM ledger_transfers WHERE pending_id IS NOT NULL)", "still pending"),
    "proof root missing": ("UPDATE run_cases SET shares_root = NULL", "no published share root"),
}


@pytest.fixture
def finished(settings: Settings) -> Platform:
    build_scenario(settings, members=120)
    platform = build_platform(settings)
    run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian,
             now=datetime.fromisoformat(JOB_TIME))
    return platform


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_each_damage_is_reported(finished: Platform, damage: str, tmp_path: Path) -> None:
    sql, expected = DAMAGE[damage]
    with Session(finished.engine) as s:
        assert check_after_restart(s) == []
        before = fingerprint(s)
        s.execute(text(sql))
        s.flush()
        problems = check_after_restart(s)
        after = fingerprint(s)
        s.rollback()
    finished.engine.dispose()
    assert any(expected in p for p in problems), problems
    assert after != before
