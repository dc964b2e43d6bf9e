"""Security headers from a real server: a Content-Security-Policy without inline script (and no
inline script in any page for it to forbid), HSTS in production, ``Cache-Control: no-store`` on
every API answer with personal data, and no ``server`` header naming the software."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from datetime import date
from pathlib import Path

import httpx
import pytest

from e2e.helpers import MEMBER_PASSWORD, LiveServer, actor, create_staff, web_login
from huzhu.app import build_platform, create_app
from huzhu.config import Settings
from huzhu.identity import make_resident_id

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def assert_no_inline_code(html: str, where: str) -> None:
    assert not INLINE_SCRIPT.search(html), f"{where}: inline <script>"
    assert not EVENT_HANDLER.search(html), f"{where}: inline event handler"
    assert not JS_URL.search(html), f"{where}: javascript: URL"


def test_pages_and_api_answers_carry_the_security_headers(live: LiveServer) -> None:
    create_staff(live.platform, "admin", "admin@x.example", "管理员")
    anonymous = live.client()
    assert anonymous.post("/auth/register", json={"login": "13700000001", "password": MEMBER_PASSWORD,
                                                  "display_name": "头"}).status_code == 201
    member = actor(live, "13700000001", MEMBER_PASSWORD)
    member_id = member.post("/members", json={"name": "头", "id_number": make_resident_id(
        "110101", date(1980, 1, 1), 5, "F")}).json()["id"]
    assert member.post(f"/members/{member_id}/top-ups", json={"amount": "9.00"},
                       headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 201

    browser = httpx.Client(base_url=live.url, timeout=30, headers={"Accept": "text/html"})
    admin_pages = web_login(live, "admin@x.example")
    member_pages = web_login(live, "13700000001", MEMBER_PASSWORD)
    pages = [(browser, p) for p in ("/", "/plans", "/cases", "/runs", "/report", "/open-data", "/login", "/register",
                                    "/docs", "/no-such-page")]
    pages += [(member_pages, p) for p in ("/me", f"/me/members/{member_id}", "/me/members/new", "/me/claims/new")]
    pages += [(admin_pages, "/admin")]
    for client, path in pages:
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        policy = directives(response.headers["content-security-policy"])
        assert policy["script-src"] == ["'self'"], path  # no 'unsafe-inline', no 'unsafe-eval'
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server" not in response.headers, path
        assert "strict-transport-security" not in response.headers  # a sandbox on plain HTTP
        assert_no_inline_code(response.text, path)
    assert "'unsafe-inline'" not in browser.get("/").headers["content-security-policy"]

    # Every API answer with personal data says no-store, errors too; the 413 refusal as well.
    personal = ["/me", "/members", f"/members/{member_id}", f"/members/{member_id}/enrollments",
                f"/members/{member_id}/ledger", "/claims", "/members/999999"]
    for path in personal:
        response = member.get(path)
        assert response.headers["cache-control"] == "no-store", path
        assert "server" not in response.headers
    assert anonymous.get("/cases").headers["cache-control"] == "no-store"
    too_big = anonymous.post("/auth/register", content=b"x" * (2 * 1024 * 1024),
                             headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and too_big.headers["content-security-policy"]


def test_production_answers_carry_hsts(database_url: str, tmp_path: Path) -> None:
    settings = Settings(mode="production", database_url=database_url, secret_key="x" * 40, id_number_key="k" * 40,
                        data_dir=tmp_path, plans_dir=REPO / "plans")
    platform = build_platform(settings)
    app = create_app(platform)
    responses: list[httpx.Response] = []

    async def probe() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as client:
            responses.append(await client.get("/"))
            responses.append(await client.get("/api/v1/plans"))

    thread = threading.Thread(target=lambda: asyncio.run(probe()))
    thread.start()
    thread.join()
    platform.engine.dispose()
    for response in responses:
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "includeSubDomains" in response.headers["strict-transport-security"]
