"""Engine, sessions and the one place that commits (``unit_of_work``).

Services only ``flush()``; the boundary (a CLI command, a job, an HTTP request) commits on
success and rolls back on error, so a money movement spread over several services stays atomic.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import psycopg
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    cast,
    create_engine,
    event,
    func,
    text,
)
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from huzhu.errors import DomainError, ErrorCode
from huzhu_verify.pseudonyms import register_sqlite_functions

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger everywhere else (PostgreSQL).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def affected_rows(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (``Session.execute`` is typed as a plain ``Result``)."""
    return int(typing.cast("CursorResult[Any]", result).rowcount or 0)


def sum_fen(amount: ColumnElement[int] | object) -> ColumnElement[int]:
    """SUM of a money expression as integer fen on every database, 0 over no rows.

    PostgreSQL widens SUM(bigint) to numeric, which psycopg reads as ``Decimal``; SQLite returns
    an int. Money leaves the database as ``int`` only, so every money aggregate goes through here
    (raw SQL writes the same ``CAST(COALESCE(SUM(x), 0) AS BIGINT)``; see ``SQL_SUM_FEN``).
    """
    return cast(func.coalesce(func.sum(amount), 0), BigInteger)


SQL_SUM_FEN = "CAST(COALESCE(SUM({}), 0) AS BIGINT)"
"""The text-SQL form of :func:`sum_fen`: ``SQL_SUM_FEN.format("e.amount")``."""


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores naive text otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use the injectable clock (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumString(TypeDecorator[E], Generic[E]):
    """A ``StrEnum`` kept as its value in a plain ``String(length)`` column (no database enum type,
    so the schema is the same text column it always was); rows come back as enum members.

    ``Mapped[ClaimStatus] = mapped_column(EnumString(ClaimStatus, 16))``. A value that is not a
    member is refused before it reaches the database.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    @property
    def python_type(self) -> type[E]:
        return self.enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def one_of(column: str, enum: type[StrEnum]) -> str:
    """The check-constraint text allowing exactly the enum's values: ``status IN ('a', 'b')``."""
    return f"{column} IN {tuple(member.value for member in enum)!r}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and use psycopg 3 for it."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str, **kwargs: object) -> Engine:
    """The engine for ``url``. Bound parameters never appear in its error text (``hide_parameters``):
    errors end up in logs, and the parameters are names, sealed ID numbers and password hashes."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Many threads (the server's pool) may wait for the one SQLite writer: give them connections.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=20, max_overflow=60, hide_parameters=True, **kwargs)
        # In-process writers queue on a fair mutex instead of SQLite's busy-polling, which starves
        # under a crowd of writers; other processes (the CLI, a job) still meet the busy timeout.
        writer = threading.Lock()

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # WAL lets readers go on during a run; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB per connection at most
            cur.close()
            register_sqlite_functions(dbapi_conn)  # huzhu_pseudonym / huzhu_salt / huzhu_leaf (sum trees)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            # Writers take the write lock up front so two writers queue instead of failing
            # mid-transaction; readers (WAL) begin without it and never wait for a writer.
            if conn.get_execution_options().get("read_only"):
                conn.exec_driver_sql("BEGIN")
                return
            # A caller that must not wait long for its turn (the readiness probe) says so.
            if not writer.acquire(timeout=conn.get_execution_options().get("writer_wait", 30)):
                raise SqliteWriterBusy("the database is busy with other writes; retry shortly")
            conn.info["holds_writer"] = True
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release_writer(conn)
                raise

        def _release_writer(conn):  # noqa: ANN001, ANN202
            if conn.info.pop("holds_writer", False):
                writer.release()

        event.listen(engine, "commit", _release_writer)
        event.listen(engine, "rollback", _release_writer)

        # Let SQLAlchemy, not pysqlite, issue BEGIN (pysqlite's implicit transactions are unreliable).
        @event.listens_for(engine, "connect", insert=True)
        def _sqlite_autocommit_off(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, hide_parameters=True, **kwargs)


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database named in ``url`` if the server does not have it yet, so a
    newcomer's first ``huzhu demo`` or ``huzhu db upgrade`` needs no ``createdb``. Returns whether it
    created one. SQLite creates its file on first use anyway."""
    target = make_url(normalise_url(url))
    if not target.drivername.startswith("postgresql") or not target.database:
        return False
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                  {"name": target.database}).first()
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote(target.database)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        admin.dispose()


def reset_database(url: str) -> None:
    """Start over with an empty database (the sandbox demo's ``--reset``): delete the SQLite file,
    or drop and re-create the PostgreSQL database."""
    target = make_url(normalise_url(url))
    if target.drivername.startswith("sqlite"):
        if target.database and target.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(target.database + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(target.database or "")
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        admin.dispose()
    ensure_database(url)


class SqliteWriterBusy(OperationalError):
    """No turn to write within the timeout (rendered as 503 with Retry-After)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None, Exception(message))


def is_sqlite(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "sqlite"


def make_session_factory(engine: Engine, *, read_only: bool = False,
                         info: dict[str, object] | None = None) -> sessionmaker[Session]:
    """``info`` is copied into every session (the platform's ID-number vault travels there)."""
    bind = engine.execution_options(read_only=True) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=False, info=info or {})


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on any error: the only place that commits."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@lru_cache(maxsize=4096)
def _sqlite_time(value: date) -> str:
    # The same text forms SQLAlchemy's SQLite types store (naive UTC datetimes, ISO dates).
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value.isoformat()


def _sqlite_value(value: object) -> object:
    if value is None or type(value) in (int, str):
        return value
    if isinstance(value, date):
        return _sqlite_time(value)
    if isinstance(value, bool):
        return int(value)
    return value


def bulk_insert(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *,
                native: bool = False) -> None:
    """Insert many rows with the driver's fastest path: COPY on PostgreSQL, executemany on SQLite.

    For imports of millions of rows, where SQLAlchemy's per-row parameter processing would dominate.
    ``native``: the rows hold only ``None``, ``int`` and ``str`` (dates as ISO text), which both drivers
    take as they are; SQLite's per-value conversion is skipped.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        assert raw is not None  # a live connection has its driver's connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        (rows if isinstance(rows, list) else list(rows)) if native
        else [tuple(_sqlite_value(v) for v in row) for row in rows],
    )


# ---------------------------------------------------------------- what a database failure means


class DbFailure(StrEnum):
    """What an operational database error means for whoever asked: not all are "busy"."""

    DISK_FULL = "disk_full"  # no space left: writes fail until an operator frees some
    READ_ONLY = "read_only"  # the database takes no writes (a standby, a read-only file or setting)
    UNAVAILABLE = "unavailable"  # the server is down or unreachable, or the file cannot be opened
    BUSY = "busy"  # a lock or a turn was not had in time, a deadlock or serialisation conflict: retry


_SQLITE = {
    "SQLITE_FULL": DbFailure.DISK_FULL,
    "SQLITE_READONLY": DbFailure.READ_ONLY,
    "SQLITE_BUSY": DbFailure.BUSY,
    "SQLITE_LOCKED": DbFailure.BUSY,
    "SQLITE_CANTOPEN": DbFailure.UNAVAILABLE,
    "SQLITE_IOERR": DbFailure.UNAVAILABLE,
    "SQLITE_NOTADB": DbFailure.UNAVAILABLE,
    "SQLITE_CORRUPT": DbFailure.UNAVAILABLE,
}
_POSTGRES = {
    "53100": DbFailure.DISK_FULL,  # disk_full
    "25006": DbFailure.READ_ONLY,  # read_only_sql_transaction
    "55P03": DbFailure.BUSY,  # lock_not_available (lock_timeout)
    "57014": DbFailure.BUSY,  # query_canceled (statement_timeout)
    "40001": DbFailure.BUSY,  # serialization_failure
    "40P01": DbFailure.BUSY,  # deadlock_detected
    "53300": DbFailure.BUSY,  # too_many_connections
    "53200": DbFailure.UNAVAILABLE,  # out_of_memory
    "57P01": DbFailure.UNAVAILABLE,  # admin_shutdown
    "57P02": DbFailure.UNAVAILABLE,  # crash_shutdown
    "57P03": DbFailure.UNAVAILABLE,  # cannot_connect_now
}


def classify_failure(exc: BaseException) -> DbFailure | None:
    """What a database error means (``None``: not an operational failure — a bug, a bad statement)."""
    if isinstance(exc, SqliteWriterBusy | sqlalchemy_exc.TimeoutError):
        return DbFailure.BUSY
    orig = exc.orig if isinstance(exc, sqlalchemy_exc.DBAPIError) else exc
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return next((failure for prefix, failure in _SQLITE.items() if name.startswith(prefix)), None)
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return _POSTGRES.get(sqlstate) or (DbFailure.UNAVAILABLE if sqlstate.startswith("08") else None)
    if isinstance(orig, psycopg.OperationalError):
        return DbFailure.UNAVAILABLE  # no SQLSTATE: the client could not reach the server at all
    return None


class DbError(ErrorCode):
    DISK_FULL = ("db.disk_full", "the database has no space left, so nothing was saved; try again later")
    READ_ONLY = ("db.read_only",
                 "the database takes no changes at the moment, so nothing was saved; reading still works, "
                 "try again later")
    UNAVAILABLE = ("db.unavailable", "the database cannot be reached, so nothing was saved; try again in a moment")
    BUSY = ("db.busy", "the database is busy, so nothing was saved; try again in a moment")


# failure → (its code, HTTP status, problem type, title, Retry-After seconds or None)
_REFUSALS: dict[DbFailure, tuple[DbError, int, str, str, int | None]] = {
    DbFailure.DISK_FULL: (DbError.DISK_FULL, 507, "insufficient-storage", "Insufficient storage", None),
    DbFailure.READ_ONLY: (DbError.READ_ONLY, 503, "read-only", "The database is read-only", 60),
    DbFailure.UNAVAILABLE: (DbError.UNAVAILABLE, 503, "unavailable", "Service unavailable", 5),
    DbFailure.BUSY: (DbError.BUSY, 503, "busy", "The database is busy", 1),
}


class DatabaseRefusal(DomainError):
    """A request refused because of what the database could not do (``DbFailure``), with the status
    and ``Retry-After`` that fit: 507 for a full disk, 503 otherwise."""

    def __init__(self, failure: DbFailure) -> None:
        code, self.status_code, self.type_slug, self.title, retry = _REFUSALS[failure]
        super().__init__(code, details={"failure": failure.value})
        self.failure = failure
        self.headers = {"Retry-After": str(retry)} if retry else None


def database_refusal(exc: BaseException) -> DatabaseRefusal | None:
    failure = classify_failure(exc)
    return None if failure is None else DatabaseRefusal(failure)
