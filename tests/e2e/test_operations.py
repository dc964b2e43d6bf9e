"""Operations: a database failure says what it is, readiness means writes work, and the staff
password never goes on the command line.

Every ``OperationalError`` used to read "database busy". Now a full disk (507), a read-only
database, an unreachable server and a lock not had in time (503 with ``Retry-After``) are told
apart, by their own SQLite error names and PostgreSQL SQLSTATEs, on the API and the pages; and
``/readyz`` writes a row in a transaction it rolls back, so it is 503 when writes would fail.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from e2e.helpers import MEMBER_PASSWORD, LiveServer, free_port
from huzhu.accounts.passwords import verify_password
from huzhu.accounts.service import find_account_by_login
from huzhu.config import get_settings
from huzhu.db import DbFailure, classify_failure, make_engine, normalise_url
from huzhu.platform import Platform

pytestmark = pytest.mark.e2e


def failure_of(action) -> DbFailure | None:  # noqa: ANN001
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the error is what is classified
        return classify_failure(exc)
    raise AssertionError("the statement did not fail")


def test_each_kind_of_failure_is_told_apart_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))

    def write(conn_setup: str | None = None, blob: int = 10) -> None:
        engine.dispose()  # a fresh connection: the pragmas below are the connection's
        with engine.begin() as conn:
            if conn_setup:
                conn.exec_driver_sql(conn_setup)
            conn.execute(text("INSERT INTO t VALUES (randomblob(:n))"), {"n": blob})

    # A disk with no room left: SQLite is told the database may not grow (SQLITE_FULL).
    assert failure_of(lambda: write("PRAGMA max_page_count = 2", 200_000)) == DbFailure.DISK_FULL
    assert failure_of(lambda: write("PRAGMA query_only = ON")) == DbFailure.READ_ONLY
    # Another process holds the write lock past the busy timeout (SQLITE_BUSY).
    other = create_engine(url, connect_args={"timeout": 0.05}, isolation_level=None)
    holder = make_engine(url).raw_connection()
    holder.execute("BEGIN IMMEDIATE")
    try:
        def busy() -> None:
            with other.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        assert failure_of(busy) == DbFailure.BUSY
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # A database file that cannot be opened (SQLITE_CANTOPEN): the disk or the volume is gone.
    gone = create_engine(f"sqlite:///file:{tmp_path / 'gone' / 'f.sqlite'}?mode=ro&uri=true")
    assert failure_of(lambda: gone.connect().close()) == DbFailure.UNAVAILABLE
    # A bug is not an operational failure: no such table.
    assert failure_of(lambda: write("SELECT * FROM no_such_table")) is None


@pytest.mark.skipif(not __import__("databases").POSTGRES_URL, reason="HUZHU_TEST_POSTGRES_URL is not set")
def test_each_kind_of_failure_is_told_apart_on_postgresql() -> None:
    from databases import postgres_database

    with postgres_database() as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))

        def read_only() -> None:
            with engine.begin() as conn:
                conn.execute(text("SET TRANSACTION READ ONLY"))
                conn.execute(text("INSERT INTO t VALUES (2)"))
        assert failure_of(read_only) == DbFailure.READ_ONLY

        with engine.connect() as holder, holder.begin():
            holder.execute(text("SELECT * FROM t WHERE x = 1 FOR UPDATE"))

            def locked() -> None:
                with engine.begin() as conn:
                    conn.execute(text("SET LOCAL lock_timeout = '50ms'"))
                    conn.execute(text("UPDATE t SET x = 3 WHERE x = 1"))
            assert failure_of(locked) == DbFailure.BUSY
        engine.dispose()
    # The server is down (nothing listens on the port).
    down = make_engine(make_url(normalise_url(url)).set(port=free_port()).render_as_string(hide_password=False))
    assert failure_of(lambda: down.connect().close()) == DbFailure.UNAVAILABLE
    # A full disk cannot be made on demand here: the driver's own error for SQLSTATE 53100.
    full = OperationalError("INSERT …", {}, psycopg.errors.DiskFull("could not extend file: No space left on device"))
    assert classify_failure(full) == DbFailure.DISK_FULL


@contextmanager
def read_only_database(platform: Platform, database_url: str) -> Iterator[None]:
    """Every new connection of the platform is read-only, as on a standby or a read-only file."""
    if platform.engine.dialect.name == "sqlite":
        def query_only(dbapi_conn, _record) -> None:  # noqa: ANN001
            dbapi_conn.execute("PRAGMA query_only = ON")
        event.listen(platform.engine, "connect", query_only)
        platform.engine.dispose()
        try:
            yield
        finally:
            event.remove(platform.engine, "connect", query_only)
            platform.engine.dispose()
        return
    name = make_url(normalise_url(database_url)).database
    admin = create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    platform.engine.dispose()
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text("SET default_transaction_read_only = off"))
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off'))
        admin.dispose()
        platform.engine.dispose()


def test_a_read_only_database_is_not_ready_and_says_so(live: LiveServer, database_url: str) -> None:
    client = httpx.Client(base_url=live.url, timeout=30)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["writes"] == "ok"
    with read_only_database(live.platform, database_url):
        probe = client.get("/readyz")
        assert probe.status_code == 503 and probe.json() == {"status": "read_only", "writes": "failing"}
        refused = client.post("/api/v1/auth/register", json={"login": "13700000001", "password": MEMBER_PASSWORD,
                                                             "display_name": "只读"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "db.read_only" and refused.headers["retry-after"] == "60"
        page = client.get("/register", headers={"Accept": "text/html"})
        assert page.status_code == 200  # reading still works
        assert client.get("/api/v1/plans").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_a_full_disk_is_507_and_nothing_is_saved(live: LiveServer) -> None:
    if live.platform.engine.dialect.name != "sqlite":
        pytest.skip("a full disk is simulated with SQLite's page limit (PostgreSQL: SQLSTATE 53100, tested above)")

    def no_room(dbapi_conn, _record) -> None:  # noqa: ANN001
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(live.platform.engine, "connect", no_room)
    live.platform.engine.dispose()
    client = live.client()
    try:
        statuses = []
        for n in range(200):  # the free room in the last pages fills up, then the disk is "full"
            answer = client.post("/auth/register", json={"login": f"1370000{n:04d}", "password": MEMBER_PASSWORD,
                                                         "display_name": "满" * 100})
            statuses.append(answer.status_code)
            if answer.status_code != 201:
                break
        assert answer.status_code == 507, answer.text
        assert answer.json()["code"] == "db.disk_full" and answer.json()["details"] == {"failure": "disk_full"}
        assert "retry-after" not in answer.headers
    finally:
        event.remove(live.platform.engine, "connect", no_room)
        live.platform.engine.dispose()
    with live.platform.factory() as s:
        assert find_account_by_login(s, f"1370000{len(statuses) - 1:04d}") is None  # the refused one: not saved


def test_the_staff_password_never_goes_on_the_command_line(platform: Platform, database_url: str,
                                                           tmp_path: Path) -> None:
    from huzhu.cli import app

    def create(args: list[str], stdin: str) -> tuple[int, str]:
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["users", "create", "--role", "reviewer", "--name", "审核", *args],
                                        input=stdin, env={"HUZHU_DATABASE_URL": database_url, "HUZHU_MODE": "sandbox",
                                                          "HUZHU_DATA_DIR": str(tmp_path)})
        finally:
            get_settings.cache_clear()
        return result.exit_code, result.output

    code, output = create(["--login", "a@x.example", "--password", "staff-pass-1"], "")
    assert code == 2 and "No such option" in output  # refused outright
    code, output = create(["--login", "b@x.example"], "staff-pass-2\nstaff-pass-2\n")  # asked for, hidden
    assert code == 0 and "staff-pass-2" not in output, output
    code, output = create(["--login", "c@x.example", "--password-stdin"], "staff-pass-3\n")
    assert code == 0, output
    with platform.factory() as s:
        assert find_account_by_login(s, "a@x.example") is None
        assert verify_password(find_account_by_login(s, "b@x.example").password_hash, "staff-pass-2")
        assert verify_password(find_account_by_login(s, "c@x.example").password_hash, "staff-pass-3")


def test_readiness_waits_for_no_lock_forever(live: LiveServer) -> None:
    """While another writer holds SQLite's one write turn, the probe gives up after a short wait
    and says writes are queued (they will get their turn); it does not hang."""
    if live.platform.engine.dialect.name != "sqlite":
        pytest.skip("the one-writer turn is SQLite's")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with live.platform.session() as s:
            s.execute(text("INSERT INTO number_sequences (name, last_value) VALUES (:n, 0)"),
                      {"n": uuid.uuid4().hex[:16]})
            held.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    held.wait(5)
    try:
        answer = httpx.get(live.url + "/readyz", timeout=30)
        assert answer.status_code == 200 and answer.json()["writes"] == "busy"
    finally:
        release.set()
        worker.join()
