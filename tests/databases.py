"""The databases every database test runs on: SQLite always, PostgreSQL when
``HUZHU_TEST_POSTGRES_URL`` is set (CI sets it). Each use gets a fresh database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("HUZHU_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@contextmanager
def postgres_database() -> Iterator[str]:
    """A freshly created PostgreSQL database, dropped afterwards (even with connections left open)."""
    admin_url = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    # HUZHU_TEST_DB_PREFIX: runs sharing one server name their databases apart (default huzhu_test).
    name = f"{os.environ.get('HUZHU_TEST_DB_PREFIX', 'huzhu_test')}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database of ``backend`` ("sqlite" in ``folder``, or "postgresql")."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'huzhu.sqlite'}"
    else:
        with postgres_database() as url:
            yield url
