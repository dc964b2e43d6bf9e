"""Shared fixtures: a real database built by the real migrations, on SQLite and PostgreSQL.

Every test that asks for ``platform`` (or ``session_factory``) runs once per database backend:
SQLite always; PostgreSQL when ``HUZHU_TEST_POSTGRES_URL`` is set (CI sets it). Each test gets a
fresh database: a new SQLite file, or a freshly created PostgreSQL database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.config import Settings
from huzhu.platform import Platform, build_platform

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("HUZHU_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _postgres_database() -> Iterator[str]:
    admin_url = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"huzhu_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'huzhu.sqlite'}"
    else:
        yield from _postgres_database()


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
