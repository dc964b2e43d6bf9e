"""The public micro-cache: anonymous reads are served from it, any write clears it, and requests
that carry credentials are never cached."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from huzhu.http.cache import PublicReadCache


def make_app() -> tuple[PublicReadCache, dict[str, int]]:
    state = {"cases": 0, "calls": 0}

    async def cases(_: Request) -> JSONResponse:
        state["calls"] += 1
        return JSONResponse({"cases": state["cases"]})

    async def approve(_: Request) -> JSONResponse:
        state["cases"] += 1
        return JSONResponse({"ok": True}, status_code=201)

    app = Starlette(routes=[Route("/api/v1/cases", cases), Route("/api/v1/claims/1/decision", approve,
                                                                  methods=["POST"])])
    return PublicReadCache(app, ttl=60), state


def test_anonymous_reads_are_cached_until_a_write() -> None:
    cached, state = make_app()

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cached), base_url="http://t") as client:
            assert (await client.get("/api/v1/cases")).json() == {"cases": 0}
            assert (await client.get("/api/v1/cases")).json() == {"cases": 0}
            assert state["calls"] == 1  # the second read came from the cache
            await client.post("/api/v1/claims/1/decision")
            assert (await client.get("/api/v1/cases")).json() == {"cases": 1}  # never stale after a write
            assert state["calls"] == 2
            await client.get("/api/v1/cases", headers={"Authorization": "Bearer x"})
            await client.get("/api/v1/cases", headers={"Authorization": "Bearer x"})
            assert state["calls"] == 4  # credentials bypass the cache
            await client.get("/api/v1/cases?limit=1")
            assert state["calls"] == 5  # the query string is part of the key

    # A thread of its own: the browser tests' Playwright may leave an event loop running in this one.
    failure: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run(scenario(), failure))
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _run(coroutine: Coroutine[object, object, None], failure: list[BaseException]) -> None:
    try:
        asyncio.run(coroutine)
    except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
        failure.append(exc)
