"""Structured logs: one JSON object per line, with a request id on every access log.

Logs never carry what people sent: the engines are built with ``hide_parameters`` (SQLAlchemy
leaves bound values out of its error text), and every exception is written by
``scrubbed_traceback``: the frames, and for each exception of the chain one line that names it
without its data — for a database error the driver's class, the SQLSTATE or SQLite error name,
the constraint, table and column, and the SQL text with its placeholders, never the server's
message (PostgreSQL's ``DETAIL: Key (phone)=(13800000001) already exists`` holds the value).
Other exception text is kept with phone, ID and account numbers, e-mail addresses and password
hashes starred out. The filter on uvicorn's own error logger does the same for what escapes the app.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy.exc import StatementError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huzhu.identity.masking import redact_identifiers

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_HASHES = re.compile(r"\$argon2[a-z]*\$[^\s'\"]+")
MAX_TEXT = 300


def scrub_text(text: str) -> str:
    """Free text about an error with identifiers, e-mail addresses and password hashes starred out."""
    return redact_identifiers(_HASHES.sub("$argon2…", text))[:MAX_TEXT]


def _driver_error(exc: BaseException) -> str:
    """A database driver's error by its kind only: what failed, never the data involved."""
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        where = ", ".join(f"{name} {value}" for name, value in (
            ("constraint", diag.constraint_name), ("table", diag.table_name), ("column", diag.column_name))
            if value)
        return f"{type(exc).__module__}.{type(exc).__name__} (sqlstate {exc.sqlstate or 'none'}" + (
            f"; {where})" if where else ")")
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None) or "unknown"
        # SQLite's messages name tables and columns, never values.
        return f"sqlite3.{type(exc).__name__} ({name}: {scrub_text(str(exc).splitlines()[0] if str(exc) else '')})"
    return f"{type(exc).__module__}.{type(exc).__name__}"


def describe_exception(exc: BaseException) -> str:
    """One line about an exception that holds no value from the request or the database."""
    if isinstance(exc, StatementError):
        statement = " ".join((exc.statement or "").split())[:MAX_TEXT]
        cause = _driver_error(exc.orig) if exc.orig is not None else "no driver error"
        return f"sqlalchemy.exc.{type(exc).__name__}: {cause} in: {statement}"
    if isinstance(exc, psycopg.Error | sqlite3.Error):
        return _driver_error(exc)
    text = str(exc)
    return f"{type(exc).__module__}.{type(exc).__name__}" + (f": {scrub_text(text)}" if text else "")


def scrubbed_traceback(exc: BaseException) -> str:
    """The exception and its causes like Python prints them, each described by ``describe_exception``."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = ["Traceback (most recent call last):\n" + "".join(traceback.format_tb(e.__traceback__))
             + describe_exception(e) for e in reversed(chain)]
    return "\n\nThe above exception led to the following:\n\n".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[1] is not None:
            entry["exc"] = scrubbed_traceback(record.exc_info[1])
        return json.dumps(entry, ensure_ascii=False, default=str)


class ScrubExceptions(logging.Filter):
    """For loggers whose records other formatters write (uvicorn's): the traceback, scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrubbed_traceback(record.exc_info[1])
        return True


SCRUBBED_LOGGERS = ("uvicorn", "uvicorn.error", "sqlalchemy", "sqlalchemy.pool")


def configure_logging(level: int = logging.INFO) -> None:
    """Give the ``huzhu`` logger a JSON handler on stderr (once)."""
    logger = logging.getLogger("huzhu")
    if any(getattr(h, "_huzhu_json", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._huzhu_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    for name in SCRUBBED_LOGGERS:
        other = logging.getLogger(name)
        if not any(isinstance(f, ScrubExceptions) for f in other.filters):
            other.addFilter(ScrubExceptions())


access_log = logging.getLogger("huzhu.access")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,64}")


class AccessLogMiddleware:
    """Pure ASGI middleware: request id header and one JSON access-log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        for name, value in scope.get("headers", []):
            # A caller's id is echoed and logged only if it is a plain token (no control characters).
            if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
                request_id = value.decode("ascii")
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                access_log.info(
                    "request",
                    extra={
                        "request_id": request_id, "method": scope["method"], "path": scope["path"],
                        "status": status["code"], "ms": round((time.perf_counter() - started) * 1000, 2),
                        "account_id": state.get("account_id"),
                    },
                )
