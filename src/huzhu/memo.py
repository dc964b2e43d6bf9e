"""Figures that are costly to compute and may be a moment old: computed once per ``ttl`` per
process, by one thread while the others wait for its result instead of computing it too."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class Memo:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        hit = self._values.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self._lock:  # single flight: a crowd of visitors costs one computation
            hit = self._values.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            value = compute()
            self._values[key] = (time.monotonic() + self.ttl, value)
            return value

    def clear(self) -> None:
        self._values = {}
