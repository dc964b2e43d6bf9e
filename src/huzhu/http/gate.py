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


class RequestGate:
    """At most ``limit`` requests at a time past this point; the rest wait on the event loop.

    A request keeps its database connection from its first query to its commit, but FastAPI runs
    each of its sync dependencies and the route in a fresh hop to the thread pool. With more
    requests in flight than connections, the ones parked in threads waiting for a connection can
    take every thread, and the ones holding connections then wait for a thread that never comes:
    the pool times out after 30 s (a crowd of 80 writers on PostgreSQL showed it). Keeping the
    number of requests in flight below both the connection pool and the thread pool rules that out.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._gate: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if self._gate is None:  # created on the server's own event loop
            self._gate = asyncio.Semaphore(self.limit)
        async with self._gate:
            await self.app(scope, receive, send)
