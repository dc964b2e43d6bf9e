"""SQLite has one writer at a time. Requests that may write wait for their turn here, on the event
loop, instead of in the thread pool: a crowd of writers parked in pool threads would leave no
thread to finish (and commit) the request whose turn it is."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WriteGate:
    def __init__(self, app: ASGIApp, *, concurrent_writers: int = 1) -> None:
        self.app = app
        self.concurrent_writers = concurrent_writers
        self._gate: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if self._gate is None:  # created on the server's own event loop
            self._gate = asyncio.Semaphore(self.concurrent_writers)
        async with self._gate:
            await self.app(scope, receive, send)
