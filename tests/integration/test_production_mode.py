"""Production mode: default secrets are refused at start-up, and the sandbox clock does not exist."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from huzhu.app import build_platform, create_app
from huzhu.clock import SystemClock
from huzhu.config import Settings

REPO = Path(__file__).resolve().parents[2]


def test_production_refuses_the_default_secrets(database_url: str) -> None:
    with pytest.raises(ValidationError, match="HUZHU_SECRET_KEY"):
        Settings(mode="production", database_url=database_url)
    with pytest.raises(ValidationError, match="HUZHU_SECRET_KEY"):
        Settings(mode="production", database_url=database_url, secret_key="short")
    with pytest.raises(ValidationError, match="HUZHU_ID_NUMBER_KEY"):
        Settings(mode="production", database_url=database_url, secret_key="x" * 40)
    with pytest.raises(ValidationError, match="HUZHU_ID_NUMBER_KEY"):
        Settings(mode="production", database_url=database_url, secret_key="x" * 40, id_number_key="short")


def test_production_has_no_sandbox_clock(database_url: str, tmp_path: Path) -> None:
    settings = Settings(mode="production", database_url=database_url, secret_key="x" * 40, id_number_key="k" * 40,
                        data_dir=tmp_path,
                        plans_dir=REPO / "plans")
    platform = build_platform(settings)
    assert isinstance(platform.clock, SystemClock)
    app = create_app(platform)
    responses: list[httpx.Response] = []

    async def probe() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            responses.append(await client.get("/api/v1/sandbox/clock"))
            responses.append(await client.post("/api/v1/sandbox/clock", json={"advance": "P1D"}))
            responses.append(await client.get("/openapi.json"))

    thread = threading.Thread(target=lambda: asyncio.run(probe()))
    thread.start()
    thread.join()
    platform.engine.dispose()
    assert [r.status_code for r in responses[:2]] == [404, 404]
    assert not any(path.startswith("/api/v1/sandbox") for path in responses[2].json()["paths"])
