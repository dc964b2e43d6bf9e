"""Fixtures for the API tests: a real uvicorn server on a free loopback port over a real database."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from e2e.helpers import LiveServer, start_server
from huzhu.accounts import passwords
from huzhu.app import build_platform
from huzhu.config import Settings
from huzhu.platform import Platform


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with test-sized cost (the production parameters are exercised by the unit tests)."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    logging.getLogger("huzhu.access").setLevel(logging.WARNING)


@pytest.fixture
def live_platform(settings: Settings) -> Iterator[Platform]:
    """The platform as `huzhu serve` builds it in sandbox mode: the clock lives in the database."""
    platform = build_platform(settings)
    yield platform
    platform.engine.dispose()


@pytest.fixture
def live(live_platform: Platform) -> Iterator[LiveServer]:
    live = start_server(live_platform)
    yield live
    live.server.should_exit = True
    live.thread.join(timeout=10)


