"""The composition root: the one place that turns settings into a running platform (engine,
sessions, migrations, plans, custodian, clocks) and mounts the HTTP API and the web pages on one
FastAPI application. Adapters and domain packages never import this module; the command line,
the server and the tests do."""

from __future__ import annotations

import importlib.util
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from starlette.responses import HTMLResponse, JSONResponse

from huzhu import __version__
from huzhu.api.router import build_api_router
from huzhu.api.routes.log import files_router as log_files_router
from huzhu.banking.custodian import BankCustodian
from huzhu.banking.link import BankLink, bank_link_from_settings
from huzhu.clock import Clock, SystemClock
from huzhu.config import Settings, get_settings
from huzhu.custody.service import BankRequiredCustodian, Custodian, SimulatedCustodian
from huzhu.db import (
    DbFailure,
    classify_failure,
    ensure_database,
    make_engine,
    make_session_factory,
    unit_of_work,
)
from huzhu.errors import DomainError
from huzhu.http.cache import PublicReadCache
from huzhu.http.gate import RequestGate, WriteGate
from huzhu.http.headers import SecurityHeaders
from huzhu.http.limits import BodyLimit, BodyLimits
from huzhu.http.logs import AccessLogMiddleware, configure_logging, describe_exception
from huzhu.http.problems import PROBLEM_RESPONSES, register_problem_handlers
from huzhu.http.text import refuse_control_characters
from huzhu.identity.sealing import IdNumberVault
from huzhu.ledger.service import SHARD_IDS_INFO_KEY, open_custody_cash_accounts
from huzhu.members.sealing import VAULT_INFO_KEY
from huzhu.migrate import upgrade
from huzhu.plans.loader import load_plans
from huzhu.plans.schemas import Plan
from huzhu.platform import Platform
from huzhu.provable.store import provable_info
from huzhu.sandbox.clock import SandboxDbClock
from huzhu.sealing.keyring import attach_keyring, load_keyring
from huzhu.transparency.keys import load_log_signer
from huzhu.transparency.log import SIGNER_INFO_KEY as LOG_SIGNER_INFO_KEY
from huzhu.transparency.log import (
    WITNESS_ROUNDS_INFO_KEY,
    WITNESSES_INFO_KEY,
    install_commit_signing,
    sign_checkpoint,
)
from huzhu.transparency.plan_log import log_plan_rules
from huzhu.transparency.publish import WitnessRounds, parse_witnesses
from huzhu.web import STATIC as WEB_STATIC
from huzhu.web import error_page as web_error_page
from huzhu.web import router as web_router
from huzhu_verify.note import Ed25519Signer


def catch_up_checkpoint(factory: sessionmaker[Session], signer: Ed25519Signer, plans: dict[str, Plan], *,
                        now: datetime) -> None:
    """Log plan rule versions not logged yet, and sign a checkpoint over records appended without the
    key (or the empty tree of a new log)."""
    try:
        with unit_of_work(factory) as session:
            log_plan_rules(session, plans, now=now)
            sign_checkpoint(session, signer, now=now)
    except DomainError as exc:  # a record that does not match its hash: huzhu ledger check names it
        logging.getLogger("huzhu.log").error("public log: no checkpoint signed: %s", exc)


def build_platform(settings: Settings | None = None, *, migrate: bool = True, clock: Clock | None = None) -> Platform:
    settings = settings or get_settings()
    if migrate:
        ensure_database(settings.database_url)
    engine = make_engine(settings.database_url)
    attach_keyring(engine, load_keyring(settings))
    if migrate:
        upgrade(engine, id_number_key=settings.id_number_key.get_secret_value(), data_dir=settings.data_dir)
    log_signer = load_log_signer(settings.data_dir, settings.log_origin, settings.log_signing_key.get_secret_value()
                                 if settings.log_signing_key else None)
    install_commit_signing()
    info = {VAULT_INFO_KEY: IdNumberVault(settings.id_number_key.get_secret_value()), SHARD_IDS_INFO_KEY: {},
            LOG_SIGNER_INFO_KEY: log_signer}
    info.update(provable_info(settings))
    rounds = None
    if settings.log_witnesses:  # each commit that signs a checkpoint asks them (docs/public-log.md)
        rounds = WitnessRounds(parse_witnesses(settings.log_witnesses, settings.log_witness_tls),
                               now=SystemClock().now)
        info.update({WITNESSES_INFO_KEY: tuple(rounds.names), WITNESS_ROUNDS_INFO_KEY: rounds})
    factory = make_session_factory(engine, info=info)
    read_factory = make_session_factory(engine, read_only=True, info=info)
    if rounds is not None:
        rounds.bind(factory, read_factory)
    plans = load_plans(settings.resolved_plans_dir)
    if clock is None:
        clock = SandboxDbClock(factory, read_factory) if settings.sandbox else SystemClock()
    if migrate:
        # The custody cash shards exist before the first deposit, so concurrent first deposits do not race.
        with unit_of_work(factory) as session:
            open_custody_cash_accounts(session, now=SystemClock().now())
        # Plan rule versions are public facts of the platform's time (the sandbox clock's, in a sandbox).
        catch_up_checkpoint(factory, log_signer, plans, now=clock.now())
    bank = bank_link_from_settings(settings, clock=clock)
    return Platform(settings=settings, engine=engine, factory=factory, read_factory=read_factory, plans=plans,
                    custodian=custodian_for(settings, bank), bank=bank, clock=clock)


def custodian_for(settings: Settings, bank: BankLink | None) -> Custodian:
    """The bank's messages when a bank is configured; else the in-process simulation, in the sandbox only:
    production without ``HUZHU_CUSTODY_BANK`` refuses every money operation (docs/custodian.md)."""
    if bank is not None:
        return BankCustodian()
    return SimulatedCustodian() if settings.sandbox else BankRequiredCustodian()


log = logging.getLogger("huzhu.api")

DESCRIPTION = """\
The huzhu mutual-aid platform over HTTP: plans, members, enrollments, balances, claims,
public cases and objections, apportionment runs, payouts and open data.

* Money is a decimal string in yuan (`"100000.00"`); dates and times are ISO 8601.
* Errors are RFC 9457 `application/problem+json` with a stable `type`, and a stable `code` with its
  `params` for refusals of the rules.
* Lists are cursor-paginated: pass the `next_cursor` you got back as `cursor`.
* Every request that moves money needs exactly one `Idempotency-Key` header (422 without it, 400
  with two); a retry with the same key returns the first response. Keys are kept for a retention
  period (30 days by default), after which the ledger still refuses to move the money twice.
* Authenticate with `POST /api/v1/auth/token` (OAuth2 password flow) and send
  `Authorization: Bearer <token>`. Access tokens live 15 minutes; `POST /api/v1/auth/refresh`
  with the refresh token (single use) gets the next pair. After failed logins a login needs a
  solved proof-of-work challenge (401 `challenge-required`); an address with many failures waits.
* No text may hold control characters (newlines and tabs only in free text such as descriptions
  and reasons): every string states it as a `pattern`. Bodies are capped (`x-max-body-bytes`,
  413 past it).
* Public endpoints never return names, ID numbers, phone numbers, bank accounts or documents.
"""


def create_app(platform: Platform | None = None) -> FastAPI:
    configure_logging(getattr(logging, os.environ.get("HUZHU_LOG_LEVEL", "INFO").upper(), logging.INFO))
    platform = platform or build_platform()
    app = FastAPI(
        title="huzhu API", version=__version__, description=DESCRIPTION, lifespan=_sized_thread_pool,
        openapi_url="/openapi.json", docs_url=None, redoc_url=None,  # /docs: _offline_docs
        responses=PROBLEM_RESPONSES,
        dependencies=[Depends(refuse_control_characters)],  # path and query parameters are lines
    )
    app.state.platform = platform
    register_problem_handlers(app, html_error=web_error_page)
    app.add_middleware(RequestGate, limit=requests_in_flight(platform))
    if platform.engine.dialect.name == "sqlite":
        app.add_middleware(WriteGate)  # one writing request at a time: SQLite has one writer
    app.add_middleware(PublicReadCache, on_write=platform.public_figures.clear)  # a cached public read skips routing entirely ...
    # Bodies are counted as they arrive, before anything waits for a turn or reads them (413).
    app.add_middleware(BodyLimit, limits=BodyLimits.from_settings(platform.settings))
    app.add_middleware(AccessLogMiddleware)  # ... and is still logged
    app.add_middleware(SecurityHeaders, production=not platform.settings.sandbox)  # on every answer, 413s too
    app.include_router(build_api_router(platform.settings), prefix="/api/v1")

    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: the database takes writes",
             responses={503: {"description": "writes would fail: disk full, read-only, unreachable"}})
    def readyz(request: Request) -> JSONResponse:
        state = write_probe(request.app.state.platform.engine)
        if state is not None and state != DbFailure.BUSY:
            return JSONResponse({"status": state.value, "writes": "failing"}, status_code=503)
        # Busy is ready: writes queue for their turn (SQLite has one writer) and then succeed.
        return JSONResponse({"status": "ready", "writes": "busy" if state else "ok", "mode": platform.settings.mode})

    _offline_docs(app)
    app.include_router(log_files_router)  # /log/checkpoint, /log/tile/…, /.well-known/huzhu-log-key
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=WEB_STATIC), name="static")
    _document_plan_codes(app, sorted(platform.plans))
    _document_limits(app, BodyLimits.from_settings(platform.settings))
    log.info("app created", extra={"mode": platform.settings.mode,
                                   "database": platform.engine.dialect.name})
    if getattr(platform.custodian, "bank_required", False):
        log.warning("no custodian bank: money operations are refused", extra={
            "fix": "set HUZHU_CUSTODY_BANK to the bank's https:// URL and HUZHU_CUSTODY_BANK_CERTS "
                   "(docs/custodian.md), or HUZHU_MODE=sandbox"})
    return app


def server_options() -> dict[str, Any]:
    """How uvicorn serves the app, for ``huzhu serve`` and the tests' servers alike: no ``server``
    header naming the software, and client addresses from ``X-Forwarded-For`` only when the
    connection comes from the local reverse proxy (uvicorn's default trusted address, 127.0.0.1)."""
    return {"server_header": False, "proxy_headers": True}


PROBE_WAIT_SECONDS = 2


def write_probe(engine: Engine) -> DbFailure | None:
    """Whether a write would succeed now: a row written in a transaction that is rolled back
    (nothing stays). ``None`` when it would; else what stops it (a disk-full, read-only or
    unreachable database, or a turn not had within ``PROBE_WAIT_SECONDS``)."""
    probe = f"probe:{uuid.uuid4().hex[:16]}"
    try:
        with engine.connect().execution_options(writer_wait=PROBE_WAIT_SECONDS) as conn, conn.begin() as tx:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL lock_timeout = '{PROBE_WAIT_SECONDS}s'"))
                conn.execute(text(f"SET LOCAL statement_timeout = '{PROBE_WAIT_SECONDS * 2}s'"))
            conn.execute(text("INSERT INTO number_sequences (name, last_value) VALUES (:name, 0)"), {"name": probe})
            tx.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure means the write would fail; say which
        failure = classify_failure(exc) or DbFailure.UNAVAILABLE
        log.warning("write probe failed", extra={"failure": failure.value, "error": describe_exception(exc)})
        return failure
    return None


# anyio's default thread pool: FastAPI runs sync routes and dependencies there.
THREAD_POOL_SIZE = 40
# Threads kept free of requests: the background apportionment run, file responses.
SPARE_THREADS = 8


@asynccontextmanager
async def _sized_thread_pool(_app: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREAD_POOL_SIZE
    yield


def requests_in_flight(platform: Platform) -> int:
    """How many requests may run at once: fewer than the connections and the threads there are."""
    pool = platform.engine.pool
    # A QueuePool (file SQLite and PostgreSQL) has a size and an overflow; other pools hold one.
    size = pool.size() if isinstance(pool, QueuePool) else 1
    connections = size + max(getattr(pool, "_max_overflow", 0), 0)
    return max(1, min(connections, THREAD_POOL_SIZE) - SPARE_THREADS)


def _document_plan_codes(app: FastAPI, codes: list[str]) -> None:
    """Plans are data, loaded at start-up: the schema lists the plan codes this server accepts."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for component in schema.get("components", {}).get("schemas", {}).values():
            prop = component.get("properties", {}).get("plan_code")
            if prop is not None and prop.get("type") == "string":
                prop["enum"] = codes
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                    if param.get("name") == "plan_code" and param.get("schema", {}).get("type") == "string":
                        param["schema"]["enum"] = codes
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_limits(app: FastAPI, limits: BodyLimits) -> None:
    """The schema states the body limits the edge enforces (``http.limits``): each operation with a
    body has its limit (``x-max-body-bytes``) and the 413 it answers past it; an upload says which
    documents it takes and how large each may be."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        too_large = {"description": "the body is larger than the limit (x-max-body-bytes): refused unread",
                     "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                body = operation.get("requestBody") if isinstance(operation, dict) else None
                if not body:
                    continue
                multipart = "multipart/form-data" in body.get("content", {})
                files = 1 if path.startswith("/api/") else limits.upload_files
                operation["x-max-body-bytes"] = (files * limits.upload_bytes + limits.body_bytes if multipart
                                                 else limits.body_bytes)
                operation.setdefault("responses", {}).setdefault("413", too_large)
                if multipart:
                    _document_upload(schema, body["content"]["multipart/form-data"], limits.upload_bytes)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_upload(schema: dict[str, Any], media: dict[str, Any], max_bytes: int) -> None:
    ref = media.get("schema", {}).get("$ref", "")
    form = schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    for name, prop in form.get("properties", {}).items():
        if prop.get("contentMediaType") == "application/octet-stream" or prop.get("format") == "binary":
            prop["description"] = (f"{prop.get('description', 'the document')}: a PDF, JPEG or PNG file (recognised "
                                   f"by its first bytes, not its name), 1 to {max_bytes} bytes")
            prop["x-max-bytes"] = max_bytes
            media.setdefault("encoding", {})[name] = {"contentType": "application/pdf, image/jpeg, image/png"}


SWAGGER_STATIC = "/static/swagger-ui"


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI served by the app itself (swagger-ui-py bundles it): FastAPI's
    default page loads it from a CDN, which a closed network or a strict proxy never reaches."""
    spec = importlib.util.find_spec("swagger_ui")  # its files only; importing it pulls in more
    assert spec is not None and spec.submodule_search_locations
    app.mount(SWAGGER_STATIC, StaticFiles(directory=Path(spec.submodule_search_locations[0]) / "static"),
              name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # No inline script (the Content-Security-Policy allows none): the page starts Swagger UI
        # from a static file. The password flow needs no OAuth2 redirect page.
        return HTMLResponse(DOCS_PAGE)


DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>huzhu API</title>
<link rel="stylesheet" href="{SWAGGER_STATIC}/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="{SWAGGER_STATIC}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""
