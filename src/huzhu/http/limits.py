"""Request bodies are capped at the edge, by counting bytes as they arrive.

Without a cap a 200 MB JSON body to the anonymous register endpoint was read whole into memory
before validation refused it, and a 300 MB upload was spooled whole before its size was checked.
``BodyLimit`` sits in front of everything else: a ``Content-Length`` over the limit is refused
before a byte of the body is read, and a body without one (chunked) is counted as it streams in
and refused the moment the count passes the limit. Either way the answer is a 413 problem and
the connection is closed, so the rest of the body is never read.

The limits come from the settings: ``max_body_bytes`` for JSON and plain forms, and for uploads
(``multipart/form-data``) ``max_upload_bytes`` per file — one file per API request, up to
``max_upload_files`` per web form — plus ``max_body_bytes`` for the other fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huzhu.config import Settings
from huzhu.errors import ErrorCode


class LimitError(ErrorCode):
    BODY_TOO_LARGE = ("http.body_too_large",
                      "the request body is larger than the limit of %(limit)s bytes; nothing was saved")
    UPLOAD_TOO_LARGE = ("http.upload_too_large",
                        "the upload is larger than the limit of %(limit)s bytes; nothing was saved")


@dataclass(frozen=True)
class BodyLimits:
    body_bytes: int
    upload_bytes: int
    upload_files: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(body_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes,
                   upload_files=settings.max_upload_files)

    def for_request(self, scope: Scope) -> tuple[int, LimitError]:
        """The limit for this request's body, and the refusal that names it."""
        content_type = _header(scope, b"content-type").lower()
        if content_type.startswith("multipart/form-data"):
            files = 1 if scope["path"].startswith("/api/") else self.upload_files
            return files * self.upload_bytes + self.body_bytes, LimitError.UPLOAD_TOO_LARGE
        return self.body_bytes, LimitError.BODY_TOO_LARGE


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


class BodyTooLarge(Exception):
    """Raised into the app from ``receive`` once the body passes its limit."""


class BodyLimit:
    """Pure ASGI middleware enforcing ``BodyLimits`` on every HTTP request."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, refusal = self.limits.for_request(scope)
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit, refusal)
            return
        state = _State()

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state.received += len(message.get("body", b""))
                if state.received > limit:
                    state.exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            if state.exceeded:
                return  # whatever the app makes of the refusal, the answer is the 413 below
            if message["type"] == "http.response.start":
                state.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not state.exceeded:
                raise
        if state.exceeded and not state.started:
            await _refuse(scope, send, limit, refusal)


@dataclass
class _State:
    received: int = 0
    exceeded: bool = False
    started: bool = False


async def _refuse(scope: Scope, send: Send, limit: int, code: LimitError) -> None:
    """A 413 problem (or a short page for a browser), closing the connection: the body is not read."""
    params = {"limit": limit}
    wants_page = not scope["path"].startswith("/api/") and "text/html" in _header(scope, b"accept")
    if wants_page:
        body = (f"<!doctype html><meta charset=\"utf-8\"><title>413</title><h1>上传内容过大 · Upload too large</h1>"
                f"<p>请求内容超过 {limit} 字节的上限，未保存任何内容。</p>"
                f"<p>The request is larger than the limit of {limit} bytes; nothing was saved.</p>").encode()
        media = b"text/html; charset=utf-8"
    else:
        body = json.dumps({
            "type": "/problems/payload-too-large", "title": "Payload too large", "status": 413,
            "detail": code.english(params), "instance": scope["path"], "code": code.value, "params": params,
        }, ensure_ascii=False).encode()
        media = b"application/problem+json"
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", media), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
