"""The public figures' memo: one computation for a crowd, fresh again after its TTL or a clear."""

from __future__ import annotations

import threading
import time

from huzhu.memo import Memo


def test_a_crowd_of_readers_costs_one_computation() -> None:
    memo = Memo(ttl=60)
    calls = []

    def compute() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 42

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(memo.get("stats", compute))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 20
    assert len(calls) == 1


def test_expiry_and_clear_recompute() -> None:
    memo = Memo(ttl=0.05)
    values = iter(range(100))
    first = memo.get("k", lambda: next(values))
    assert memo.get("k", lambda: next(values)) == first  # within the TTL
    time.sleep(0.06)
    second = memo.get("k", lambda: next(values))
    assert second != first
    memo.clear()
    assert memo.get("k", lambda: next(values)) not in (first, second)
    assert memo.get("other", lambda: "x") == "x"  # keys are separate
