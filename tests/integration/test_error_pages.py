"""Unknown addresses: a page in the visitor's language for browsers, problem+json for API clients."""

from __future__ import annotations

import asyncio
import threading

import httpx

from huzhu.app import create_app
from huzhu.platform import Platform


def _get(platform: Platform, path: str, **headers: str) -> httpx.Response:
    app = create_app(platform)
    box: list[httpx.Response] = []

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            box.append(await client.get(path, headers=headers))

    thread = threading.Thread(target=lambda: asyncio.run(go()))  # independent of any running loop
    thread.start()
    thread.join()
    return box[0]


def test_unknown_page_is_a_chinese_page_for_browsers(platform: Platform) -> None:
    response = _get(platform, "/no-such-page", accept="text/html,application/xhtml+xml")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "页面不存在" in response.text


def test_unknown_api_path_is_problem_json(platform: Platform) -> None:
    response = _get(platform, "/api/v1/no-such-thing", accept="text/html")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404
