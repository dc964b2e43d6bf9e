"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from huzhu.models import Base
from huzhu.platform import Platform


def test_migrations_match_the_models(platform: Platform) -> None:
    with platform.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_the_hardening_migrations_go_down_and_up_again(platform: Platform) -> None:
    """Sessions, login backoff and challenges, payee changes and the read audit (0007–0009) have
    real downgrades: down to 0005 their tables and columns are gone, up again the schema is whole."""
    from sqlalchemy import inspect

    from huzhu.migrate import downgrade, upgrade

    key = platform.settings.id_number_key.get_secret_value()
    downgrade(platform.engine, "0005", id_number_key=key, data_dir=platform.settings.data_dir)
    tables = set(inspect(platform.engine).get_table_names())
    assert not tables & {"login_sessions", "login_refresh_tokens", "login_challenge_uses", "payee_changes",
                         "personal_data_reads"}
    assert {c["name"] for c in inspect(platform.engine).get_columns("login_throttles")} >= {"window_started_at",
                                                                                          "locked_until"}
    upgrade(platform.engine, id_number_key=key, data_dir=platform.settings.data_dir)
    with platform.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
