"""Failpoints kill the process itself (SIGKILL), at the armed pass of the armed name, and only then."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
SCRIPT = """
from huzhu.failpoints import failpoint
for i in range(5):
    failpoint("job.step")
    print(i, flush=True)
failpoint("job.done")
print("finished", flush=True)
"""


def _run(armed: str, trace: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "HUZHU_FAILPOINTS": armed}
    if trace is not None:
        env["HUZHU_FAILPOINTS_TRACE"] = str(trace)
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)


def test_unarmed_failpoints_do_nothing() -> None:
    result = _run("")
    assert result.returncode == 0
    assert result.stdout.split()[-1] == "finished"


@pytest.mark.parametrize(("armed", "printed"), [("job.step=kill", 0), ("job.step=kill@3", 2), ("*=kill@6", 5),
                                                ("job.done=kill", 5)])
def test_an_armed_failpoint_kills_the_process_at_its_pass(armed: str, printed: int) -> None:
    result = _run(armed)
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.split() == [str(i) for i in range(printed)]


def test_the_trace_lists_every_pass(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    assert _run("", trace).returncode == 0
    assert trace.read_text().split() == ["job.step"] * 5 + ["job.done"]


def test_an_unknown_action_is_refused() -> None:
    result = _run("job.step=explode")
    assert result.returncode == 1
    assert "unknown action" in result.stderr
