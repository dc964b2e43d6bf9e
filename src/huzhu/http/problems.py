"""RFC 9457 problem details: one renderer for domain errors, validation errors and HTTP errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from huzhu.db import DbFailure, database_refusal
from huzhu.errors import DomainError
from huzhu.http.logs import describe_exception
from huzhu.messages import plain

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("huzhu.api")

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
}


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``). A domain error adds its stable
    ``code`` and the values in ``detail`` as ``params`` (a client can word the message itself)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str | None = Field(default=None, examples=["claims.before_in_force"])
    params: dict[str, Any] | None = Field(default=None, examples=[{
        "incident": "2016-02-06", "benefit": "accidental_death", "in_force": "2016-02-07"}])
    details: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None


def problem_response(
    request: Request, *, status: int, slug: str, title: str, detail: str,
    headers: dict[str, str] | None = None, **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug), "title": title, "status": status, "detail": detail,
        "instance": request.url.path,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    details = {k: v for k, v in exc.details.items() if k != "retry_after"} or None
    return problem_response(
        request, status=exc.status_code, slug=exc.type_slug, title=exc.title, detail=exc.message,
        headers=getattr(exc, "headers", None), code=exc.code.value,
        params={name: plain(value) for name, value in exc.params.items()}, details=details,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"])
    return problem_response(
        request, status=422, slug="invalid-input", title="Invalid input",
        detail=f"{where}: {first['msg']}" if where else str(first["msg"]), errors=errors,
    )


def allowed_methods(request: Request) -> str | None:
    """Every method the path answers to, from the OpenAPI paths. Starlette's own ``Allow`` names
    only the first route that matched, though GET and POST of one path are often two routes."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = [
            (re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$"),
             ", ".join(sorted(m.upper() for m in operations if m.upper() in _HTTP_METHODS)))
            for path, operations in request.app.openapi().get("paths", {}).items()
        ]
        request.app.state.allowed_methods = table
    return next((methods for pattern, methods in table if pattern.match(request.url.path)), None)


_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


HtmlErrorPage = Callable[[Request, int], Awaitable[Response]]


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, not a script asking for JSON)."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    html_error: HtmlErrorPage | None = getattr(request.app.state, "html_error_page", None)
    if exc.status_code in (404, 405) and html_error is not None and wants_html(request):
        return await html_error(request, exc.status_code)
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(getattr(exc, "headers", None) or {})
    allow = allowed_methods(request) if exc.status_code == 405 else None
    if allow:
        headers["Allow"] = allow
    return problem_response(request, status=exc.status_code, slug=slug, title=title, detail=detail,
                            headers=headers or None)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A concurrent request won a uniqueness race (same login, same ID number, same idempotency key).
    log.info("integrity conflict", extra={"path": request.url.path, "error": str(exc.__class__.__name__)})
    return problem_response(request, status=409, slug="conflict", title="Conflict",
                            detail="the request conflicts with a concurrent change; retry it")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database failure by what it means — disk full (507), read-only, unreachable, busy (503 with
    Retry-After) — each with its code; anything else from the database is a bug (500)."""
    refusal = database_refusal(exc)
    if refusal is None:
        return await _unexpected(request, exc)
    level = logging.WARNING if refusal.failure == DbFailure.BUSY else logging.ERROR
    log.log(level, "database %s", refusal.failure.value, extra={"path": request.url.path,
                                                                "error": describe_exception(exc)})
    return await _domain_error(request, refusal)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return problem_response(request, status=500, slug="internal-error", title="Internal server error",
                            detail="something went wrong on our side; it has been logged")


def register_problem_handlers(app: FastAPI, *, html_error: HtmlErrorPage | None = None) -> None:
    """One renderer for every error. ``html_error``: how a browser asking for a page that does not
    exist (404, 405) is answered, when the web portal is mounted."""
    app.state.html_error_page = html_error
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": title}
    for code, (_slug, title) in _HTTP_SLUGS.items()
    if code in (400, 401, 403, 404, 409, 422, 429)
}
