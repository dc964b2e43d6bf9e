"""Failpoints: named places at the commit boundaries of jobs and money-moving requests where a test
can have the process killed (SIGKILL, not an exception) to prove that a crash anywhere leaves the
books consistent after a restart.

A failpoint costs one dictionary lookup when none is armed. Arm them through the environment of the
process under test::

    HUZHU_FAILPOINTS="run.after_charges=kill"          # die the first time this point is passed
    HUZHU_FAILPOINTS="payout.before_commit=kill@3"     # die the third time
    HUZHU_FAILPOINTS="*=kill@137"                      # die at the 137th failpoint passed, any name

Names are ``<job or request>.<place>``; every name passed is listed by :func:`known_names` once the
code has run, and written to ``HUZHU_FAILPOINTS_TRACE`` (a file path) when that is set, so a crash
script can learn the points of a run before choosing where to kill it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

_lock = threading.Lock()
_passed: Counter[str] = Counter()
_total = 0
_armed: dict[str, int] | None = None
_trace_path: str | None = None


def _load() -> dict[str, int]:
    global _armed, _trace_path
    if _armed is None:
        armed: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in os.environ.get("HUZHU_FAILPOINTS", "").split(","))):
            name, _, action = item.partition("=")
            action, _, count = action.partition("@")
            if action.strip() != "kill":
                raise ValueError(f"HUZHU_FAILPOINTS: unknown action {action!r} in {item!r} (only 'kill')")
            armed[name.strip()] = int(count) if count else 1
        _trace_path = os.environ.get("HUZHU_FAILPOINTS_TRACE") or None
        _armed = armed
    return _armed


def reset() -> None:
    """Forget the armed points and counts (tests that change the environment call this)."""
    global _armed, _total
    with _lock:
        _armed = None
        _total = 0
        _passed.clear()


def failpoint(name: str) -> None:
    """Pass the failpoint ``name``; if it is armed for this pass, the process dies at once."""
    global _total
    armed = _load()
    if not armed and _trace_path is None:
        return
    with _lock:
        _passed[name] += 1
        _total += 1
        hits, total = _passed[name], _total
        if _trace_path is not None:
            with open(_trace_path, "a", encoding="utf-8") as trace:
                trace.write(f"{name}\n")
    if armed.get(name) == hits or armed.get("*") == total:
        os.kill(os.getpid(), signal.SIGKILL)


def known_names() -> list[str]:
    """The failpoints passed so far in this process, in name order."""
    with _lock:
        return sorted(_passed)
