"""Control characters are refused at the edge, and logs never carry bound parameters.

A NUL byte in a name once reached PostgreSQL (500: text cannot hold NUL) and the "unhandled error"
line then printed the statement's parameters: names, sealed ID numbers, digests, password hashes.
Every JSON field, form field, path and query parameter is now checked before any service runs
(422 naming the field, nothing written), free text keeps its newlines and tabs, and a failing
statement's log line names the statement and the error's kind, never a value.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import date, datetime

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import huzhu.models as models
from e2e.helpers import MEMBER_PASSWORD, LiveServer, actor, page_csrf, start_server, web_client, web_login
from huzhu.accounts.passwords import hash_password
from huzhu.clock import CHINA_TZ
from huzhu.http.deps import SessionDep
from huzhu.http.logs import JsonFormatter, ScrubExceptions
from huzhu.identity import make_resident_id
from huzhu.platform import Platform

pytestmark = pytest.mark.e2e

ACCIDENT = "comprehensive-accident"
NUL, BELL, SURROGATE = "a\u0000b", "a\u0007b", "a\ud800b"


def row_counts(platform: Platform) -> dict[str, int]:
    with platform.factory() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) or 0
                for t in models.Base.metadata.sorted_tables if not t.name.startswith("login_")}


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every line the server logs (ours and uvicorn's), as it would reach the log file."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("huzhu", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield buffer
    for logger in loggers:
        logger.removeHandler(handler)


def problem_field(response: httpx.Response) -> str:
    """The field a 422 names: the validation error's location, or the coded error's ``field``."""
    assert response.status_code == 422, f"{response.request.url}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    if problem.get("code") == "http.control_character":
        return problem["params"]["field"]
    return ".".join(problem["errors"][0]["loc"])


def json_post(client: httpx.Client, path: str, body: object) -> httpx.Response:
    """JSON as a client library writes it (``\\u0000`` escapes), keys as given."""
    return client.post(path, content=json.dumps(body), headers={
        "content-type": "application/json", "Idempotency-Key": str(uuid.uuid4())})


def test_control_characters_are_refused_at_the_edge_naming_the_field(live: LiveServer,
                                                                     captured_logs: io.StringIO) -> None:
    live.platform.clock.set(datetime(2016, 1, 1, 10, tzinfo=CHINA_TZ))  # type: ignore[attr-defined]
    anonymous = live.client()
    assert anonymous.post("/auth/register", json={"login": "13700000001", "password": MEMBER_PASSWORD,
                                                  "display_name": "干净"}).status_code == 201
    member = actor(live, "13700000001", MEMBER_PASSWORD)
    id_number = make_resident_id("450321", date(1990, 6, 15), 12, "F")
    member_id = member.post("/members", json={"name": "甲", "id_number": id_number}).json()["id"]
    assert member.post(f"/members/{member_id}/enrollments", json={"plan_code": ACCIDENT},
                       headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 201
    live.platform.clock.set(datetime(2016, 1, 5, 10, tzinfo=CHINA_TZ))  # type: ignore[attr-defined]
    claim = {"member_id": member_id, "plan_code": ACCIDENT, "benefit_code": "accidental_death",
             "incident_date": "2016-01-03", "beneficiary_name": "受益人", "beneficiary_account": "6222020000000000033"}
    before = row_counts(live.platform)

    refused = [
        (anonymous, "/auth/register", {"login": "13700000002", "password": MEMBER_PASSWORD, "display_name": NUL},
         "body.display_name"),
        (anonymous, "/auth/register", {"login": "x\u0000@y.example", "password": MEMBER_PASSWORD,
                                       "display_name": "x"}, "body.login"),
        (anonymous, "/auth/register", {"login": "13700000002", "password": "pass\u0000word1", "display_name": "x"},
         "body.password"),
        (anonymous, "/auth/register", {"login": "13700000002", "password": MEMBER_PASSWORD,
                                       "display_name": SURROGATE}, "body.display_name"),
        (member, "/members", {"name": NUL, "id_number": make_resident_id("110101", date(1980, 1, 1), 3, "M")},
         "body.name"),
        (member, "/members", {"name": "乙\u001b[31m", "id_number": make_resident_id("110101", date(1980, 1, 1), 3,
                                                                                   "M")}, "body.name"),
        (member, "/claims", {**claim, "beneficiary_name": NUL}, "body.beneficiary_name"),
        (member, "/claims", {**claim, "incident_place": "阳朔\n县"}, "body.incident_place"),
        (member, "/claims", {**claim, "description": "交通\u0000事故"}, "body.description"),
        (member, "/claims", {**claim, "description": "交通\u0085事故"}, "body.description"),
        (member, "/claims", {**claim, "benefit_code": "accidental\u0000death"}, "body.benefit_code"),
        (member, f"/members/{member_id}/enrollments", {"plan_code": "quark-no1",
                                                       "health_answers": {"q\u0000": False}},
         "body.health_answers"),
    ]
    for client, path, body, field in refused:
        response = json_post(client, path, body)
        assert problem_field(response) == field, (path, body)
        assert "control character" in response.text
    # The OAuth2 token form, a path parameter and a query parameter.
    response = anonymous.post("/auth/token", data={"username": "1370000000\u00001", "password": MEMBER_PASSWORD})
    assert problem_field(response) == "body.username"
    response = anonymous.get("/cases/HZ%00001")
    assert problem_field(response) == "path.case_no"
    response = member.get(f"/members/{member_id}/shares/HZ%01")
    assert problem_field(response) == "path.case_no"
    response = anonymous.get("/cases", params={"status": BELL})
    assert problem_field(response) == "query.status"
    response = anonymous.get("/plans", params={"cursor": "1\u0000"})
    assert problem_field(response) == "query.cursor"

    # The web forms: register, log in, file a claim (multipart), each refused with nothing written.
    browser = web_client(live)
    token = page_csrf(browser, "/register")
    page = browser.post("/register", data={"csrf_token": token, "login": "13700000003", "display_name": NUL,
                                           "password": MEMBER_PASSWORD, "password2": MEMBER_PASSWORD})
    assert page.status_code == 422 and "display_name" in page.text
    page = browser.post("/login", data={"csrf_token": token, "login": "13700000001\u0000",
                                        "password": MEMBER_PASSWORD})
    assert page.status_code == 422 and "login" in page.text
    member_web = web_login(live, "13700000001", MEMBER_PASSWORD)
    page = member_web.post("/me/claims/new", data={
        "csrf_token": page_csrf(member_web, "/me/claims/new"), "choice": f"{member_id}:{ACCIDENT}:accidental_death",
        "incident_date": "2016-01-03", "beneficiary_name": NUL, "beneficiary_account": "6222020000000000033"},
        files={"evidence": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
    assert page.status_code == 422 and "beneficiary_name" in page.text
    assert member_web.get("/cases/HZ%00001").status_code == 422

    assert row_counts(live.platform) == before
    assert "unhandled error" not in captured_logs.getvalue()

    # Free text keeps its newlines and tabs (a textarea's CRLF is read as LF); lines keep nothing else.
    filed = json_post(member, "/claims", {**claim, "description": "第一行\r\n第二行\t备注"})
    assert filed.status_code == 201, filed.text
    assert filed.json()["description"] == "第一行\n第二行\t备注"


def test_a_failing_statement_logs_no_bound_parameter(live_platform: Platform, captured_logs: io.StringIO) -> None:
    """The server's own error lines, ours and uvicorn's, name the statement and the error's kind:
    no phone number, name, password hash or ID digest a statement was given."""
    phone, name, secret_hash = "13912345678", "王秘密", hash_password("secret-pass-123")
    digest = "d" * 64
    values = {"phone": phone, "name": name, "hash": secret_hash, "digest": digest}
    insert = text("INSERT INTO accounts (phone, phone_digest, display_name, password_hash, role, is_active,"
                  " created_at) VALUES (:phone, :digest, :name, :hash, 'member', true, CURRENT_TIMESTAMP)")

    def duplicate(session: SessionDep) -> dict[str, str]:
        session.execute(insert, values)
        session.flush()
        session.execute(insert, values)  # unique phone digest: PostgreSQL's DETAIL names the value
        return {}

    def broken(session: SessionDep) -> dict[str, str]:
        # A statement that fails on both databases with its parameters in the request; PostgreSQL's
        # own message then holds the value too ('value "13912345678" is out of range for type integer').
        session.execute(text(FAILING[session.get_bind().dialect.name]), values)
        return {}

    live = start_server(live_platform)
    try:
        app = live.server.config.app
        app.add_api_route("/test/duplicate", duplicate, methods=["POST"])
        app.add_api_route("/test/broken", broken, methods=["POST"])
        with httpx.Client(base_url=live.url, timeout=30) as client:
            assert client.post("/test/duplicate").status_code == 409
            assert client.post("/test/broken").status_code in (500, 503)
    finally:
        live.server.should_exit = True
        live.thread.join(timeout=10)
    logged = captured_logs.getvalue()
    assert "no_such_column" in logged or "CAST(" in logged  # the statement is there, so the line is useful ...
    for value in (phone, name, secret_hash, secret_hash.split("$")[-1], digest):
        assert value not in logged, f"a log line holds {value!r}:\n{logged}"  # ... its values are not


FAILING = {
    "sqlite": "SELECT no_such_column FROM accounts WHERE phone = :phone AND display_name = :name "
              "AND password_hash = :hash AND display_name <> :digest",
    "postgresql": "SELECT CAST(:phone AS INTEGER) FROM accounts WHERE display_name = :name "
                  "AND password_hash = :hash AND display_name <> :digest",
}


def test_uvicorn_s_own_error_lines_are_scrubbed(platform: Platform) -> None:
    phone = "13912345670"
    values = {"phone": phone, "name": "n", "hash": "h", "digest": "d"}
    with platform.engine.connect() as conn, pytest.raises(Exception) as failure:
        conn.execute(text(FAILING[platform.engine.dialect.name]), values)
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", None,
                               (type(failure.value), failure.value, failure.value.__traceback__))
    ScrubExceptions().filter(record)
    formatted = logging.Formatter().format(record)
    assert "FROM accounts" in formatted and phone not in formatted


def test_control_characters_in_database_text_never_reach_it(platform: Platform) -> None:
    """Why the edge refuses them: PostgreSQL text cannot hold NUL at all (SQLite can)."""
    with Session(platform.engine) as session:
        if platform.engine.dialect.name == "postgresql":
            with pytest.raises(Exception, match="NUL"):
                session.execute(text("SELECT :v"), {"v": NUL})
        else:
            assert session.execute(text("SELECT :v"), {"v": NUL}).scalar() == NUL


def test_a_request_id_with_control_characters_is_not_echoed() -> None:
    """The access log echoes a caller's X-Request-Id only when it is a plain token."""
    import asyncio

    from huzhu.http.logs import AccessLogMiddleware

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def answer(request_id: bytes) -> bytes:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id", request_id)]}
        asyncio.run(AccessLogMiddleware(app)(scope, receive, send))
        return dict(sent[0]["headers"])[b"x-request-id"]

    assert answer(b"trace-42") == b"trace-42"
    assert b"\x01" not in answer(b"trace\x01forged") and answer(b"trace\x01forged") != b"trace\x01forged"
