"""Bring a database to the newest schema with the real Alembic migrations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, id_number_key: str | None = None,
            data_dir: Path | None = None) -> None:
    """``id_number_key``: the platform's key, for migrations that seal existing ID numbers;
    ``data_dir``: the platform's data directory, for migrations that move stored files."""
    _migrate(engine, command.upgrade, revision, id_number_key, data_dir)


def downgrade(engine: Engine, revision: str, *, id_number_key: str | None = None,
              data_dir: Path | None = None) -> None:
    _migrate(engine, command.downgrade, revision, id_number_key, data_dir)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str, id_number_key: str | None,
             data_dir: Path | None) -> None:
    cfg = alembic_config()
    cfg.attributes["id_number_key"] = id_number_key
    cfg.attributes["data_dir"] = data_dir
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                cfg.attributes["connection"] = connection
                step(cfg, revision)
            return
        # SQLite changes a column by rebuilding the table (create, copy, drop, rename), and a table
        # that others reference can only be dropped with foreign keys off, which SQLite accepts
        # only outside a transaction. The keys are checked before the migration commits.
        raw = connection.connection.driver_connection
        assert raw is not None  # a live connection has its driver's connection
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                step(cfg, revision)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration left rows that reference nothing: {broken[:5]}")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
