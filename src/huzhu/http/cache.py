"""A one-second micro-cache for anonymous reads of public disclosures (cases, runs, plans …).

The public lists are what a surge of curious visitors reads, and they change only when something
is written. A cached response is served before routing; any write handled by this process clears
the cache, so a client never reads its own write stale. Other worker processes may serve a copy
up to ``TTL`` old — the same guarantee a CDN in front of the public pages would give.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TTL = 1.0
MAX_ENTRIES = 512
MAX_BODY = 512 * 1024
PUBLIC_PREFIXES = ("/api/v1/plans", "/api/v1/cases", "/api/v1/runs", "/api/v1/payouts", "/api/v1/reconciliations",
                   "/api/v1/transparency/tree-head", "/api/v1/report")


@dataclass
class _Entry:
    expires: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class PublicReadCache:
    def __init__(self, app: ASGIApp, ttl: float = TTL, on_write: Callable[[], None] | None = None) -> None:
        self.app = app
        self.ttl = ttl
        self.entries: dict[bytes, _Entry] = {}
        self.on_write = on_write  # other caches of public figures to drop on a write

    @staticmethod
    def _cacheable(scope: Scope) -> bool:
        if scope["method"] not in ("GET", "HEAD") or not scope["path"].startswith(PUBLIC_PREFIXES):
            return False
        # Only anonymous requests: no bearer token, no session cookie.
        return not any(name in (b"authorization", b"cookie") for name, _ in scope["headers"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            self.entries.clear()  # a write may change what the public sees
            if self.on_write is not None:
                self.on_write()
            await self.app(scope, receive, send)
            return
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        key = scope["method"].encode() + b" " + scope["path"].encode() + b"?" + scope["query_string"]
        now = time.monotonic()
        entry = self.entries.get(key)
        if entry is not None and entry.expires > now:
            await send({"type": "http.response.start", "status": entry.status, "headers": entry.headers})
            await send({"type": "http.response.body", "body": entry.body})
            return
        chunks: list[bytes] = []
        captured: dict[str, object] = {}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and captured.get("status") == 200:
                    body = b"".join(chunks)
                    if len(body) <= MAX_BODY:
                        if len(self.entries) >= MAX_ENTRIES:
                            self.entries.clear()
                        self.entries[key] = _Entry(now + self.ttl, 200, captured["headers"], body)  # type: ignore[arg-type]
            await send(message)

        await self.app(scope, receive, capture)
