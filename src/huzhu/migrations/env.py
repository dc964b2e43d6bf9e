"""Alembic environment: the URL comes from the caller (``huzhu.migrate``) or HUZHU_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from huzhu.config import get_settings
from huzhu.db import make_engine, normalise_url
from huzhu.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = normalise_url(config.get_main_option("sqlalchemy.url") or get_settings().database_url)
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
