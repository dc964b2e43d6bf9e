"""Witness rounds at commit (issue 9): every commit that signs a checkpoint asks the configured
witnesses (a real ``huzhu witness serve`` process) in the background; readers are served the newest
checkpoint whose round is over, so a checkpoint is never served before its witnesses answered; a
witness that is down blocks no money job (the checkpoint is served with the cosignatures obtained)
and is asked again at the next commit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from huzhu.app import build_platform
from huzhu.clock import FixedClock
from huzhu.config import Settings
from huzhu.errors import InvalidInput
from huzhu.jobs import run_jobs
from huzhu.platform import Platform
from huzhu.transparency.log import (
    SIGNER_INFO_KEY,
    WITNESS_ROUNDS_INFO_KEY,
    current_view,
    entries,
    latest_checkpoint,
)
from huzhu.transparency.models import LogCosignature
from huzhu.transparency.service import append_record

REPO = Path(__file__).resolve().parents[2]
WITNESS_PORT = int(os.environ.get("HUZHU_TEST_WITNESS_ROUNDS_PORT", "18141"))
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HUZHU_MODE": "sandbox"}
WITNESS = "auditor.example/w1"


def _append(platform: Platform, clock: FixedClock, count: int, start: int = 0) -> None:
    with platform.session() as session:
        for i in range(start, start + count):
            append_record(session, kind="case_noticed", subject=f"HZ{i:06d}", payload={"case_no": f"HZ{i:06d}"},
                          now=clock.now())


class WitnessProcess:
    def __init__(self, tmp_path: Path, log_key: str) -> None:
        self.args = [sys.executable, "-m", "huzhu.cli", "witness"]
        self.key, self.state, self.log_key = tmp_path / "w1.key", tmp_path / "w1-state.json", log_key
        self.vkey = subprocess.run([*self.args, "key", "--key", str(self.key), "--name", WITNESS], env=ENV,
                                   capture_output=True, text=True, check=True).stdout.strip()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([*self.args, "serve", "--key", str(self.key), "--state", str(self.state),
                                         "--log", self.log_key, "--port", str(WITNESS_PORT)],
                                        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{WITNESS_PORT}/key", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the witness did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def witness(tmp_path: Path, platform: Platform) -> Iterator[WitnessProcess]:
    with platform.factory() as session:
        log_key = session.info[SIGNER_INFO_KEY].verifier.vkey
    process = WitnessProcess(tmp_path, log_key)
    yield process
    process.stop()


@pytest.fixture
def witnessed(platform: Platform, settings: Settings, clock: FixedClock, witness: WitnessProcess) -> Iterator[Platform]:
    """The same platform with HUZHU_LOG_WITNESSES naming the witness."""
    configured = settings.model_copy(update={"log_witnesses": [f"{witness.vkey} http://127.0.0.1:{WITNESS_PORT}"]})
    built = build_platform(configured, clock=clock, migrate=False)
    yield built
    _rounds(built).wait()
    built.engine.dispose()


def _rounds(platform: Platform):  # noqa: ANN202
    with platform.factory() as session:
        return session.info[WITNESS_ROUNDS_INFO_KEY]


def _served(platform: Platform) -> tuple[int, str]:
    with platform.read_factory() as session:
        view = current_view(session)
        assert view is not None
        return view.tree_size, view.checkpoint


def _latest(platform: Platform) -> int:
    with platform.read_factory() as session:
        return latest_checkpoint(session).tree_size


def test_a_down_witness_blocks_no_job_and_is_asked_again(witnessed: Platform, witness: WitnessProcess,
                                                         clock: FixedClock) -> None:
    rounds = _rounds(witnessed)
    # The witness is down: the commit's round finds it unreachable; the checkpoint is then served
    # with the cosignatures obtained (none), and the money job ran without waiting for it.
    _append(witnessed, clock, 3)
    report = run_jobs(witnessed.factory, plans=witnessed.plans, custodian=witnessed.custodian, now=clock.now())
    assert report.reconciliation_matched is True  # its record was appended and signed at commit
    rounds.wait(30)
    size, note = _served(witnessed)
    assert size == _latest(witnessed) and f"— {WITNESS} " not in note
    with witnessed.read_factory() as session:
        answers = session.execute(select(LogCosignature.tree_size, LogCosignature.line)).all()
    assert answers and all(line == "" for _, line in answers)  # asked, no cosignature: asked again next time

    # The witness is back: the next commit's round gets its cosignature on the newest checkpoint.
    witness.start()
    _append(witnessed, clock, 2, start=3)
    rounds.wait(30)
    size, note = _served(witnessed)
    assert size == _latest(witnessed) and f"— {WITNESS} " in note


def test_a_checkpoint_is_not_served_before_its_witness_round(witnessed: Platform, witness: WitnessProcess,
                                                            clock: FixedClock) -> None:
    witness.start()
    rounds = _rounds(witnessed)
    _append(witnessed, clock, 2)
    rounds.wait(30)
    cosigned, note = _served(witnessed)
    assert cosigned == _latest(witnessed) and f"— {WITNESS} " in note
    # A commit whose round has not run yet (as between the commit and the witness's answer).
    with witnessed.factory() as session:
        session.info.pop(WITNESS_ROUNDS_INFO_KEY)
        for i in range(4):
            append_record(session, kind="case_noticed", subject=f"N{i}", payload={"n": i}, now=clock.now())
        session.commit()
    assert _latest(witnessed) == cosigned + 4
    assert _served(witnessed) == (cosigned, note)  # still the cosigned one, records beyond it not listed
    with witnessed.read_factory() as session:
        with pytest.raises(InvalidInput):
            entries(session, cosigned, 10)
    assert rounds.run() == []
    size, note = _served(witnessed)
    assert size == cosigned + 4 and f"— {WITNESS} " in note
