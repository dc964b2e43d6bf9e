"""Shared fixtures: a real database built by the real migrations, on SQLite and PostgreSQL.

Every test that asks for ``platform`` (or ``session_factory``) runs once per database backend:
SQLite always; PostgreSQL when ``HUZHU_TEST_POSTGRES_URL`` is set (CI sets it). Each test gets a
fresh database: a new SQLite file, or a freshly created PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from databases import BACKENDS, fresh_database
from huzhu.app import build_platform
from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.config import Settings
from huzhu.platform import Platform

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2015, 3, 1, 10, 0, tzinfo=CHINA_TZ))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(mode="sandbox", database_url=database_url, data_dir=tmp_path / "data",
                    plans_dir=REPO / "plans")


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    built = build_platform(settings, clock=clock)
    yield built
    built.engine.dispose()
