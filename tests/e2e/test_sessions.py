"""Sessions end on the server: logging out, "log out everywhere" and a password change revoke
tokens and cookies at once (a logged-out token used to work for 12 hours). API access tokens
live minutes and are refreshed with single-use refresh tokens (a reused one ends the session);
the CSRF token is bound to the session; the API does not take the session cookie alone for a
request that changes something; cookies are HttpOnly, SameSite and, in production, Secure.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from e2e.helpers import (
    MEMBER_PASSWORD,
    PASSWORD,
    LiveServer,
    create_staff,
    page_csrf,
    web_client,
    web_login,
)
from huzhu.accounts.models import LoginSession, SessionEnd
from huzhu.app import build_platform, create_app
from huzhu.apportionment.models import ApportionmentRun
from huzhu.clock import FixedClock
from huzhu.config import Settings
from huzhu.identity import make_resident_id

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
LOGIN = "13700000001"


def register(live: LiveServer) -> dict:
    response = live.client().post("/auth/register", json={"login": LOGIN, "password": MEMBER_PASSWORD,
                                                          "display_name": "会话"})
    assert response.status_code == 201, response.text
    return response.json()


def token_pair(live: LiveServer, password: str = MEMBER_PASSWORD) -> dict:
    response = live.client().post("/auth/token", data={"username": LOGIN, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def me(live: LiveServer, access_token: str) -> int:
    return live.client(access_token).get("/me").status_code


def page_status(live: LiveServer, cookie: str, path: str = "/me") -> int:
    with httpx.Client(base_url=live.url, cookies={"huzhu_session": cookie}, headers={"Accept": "text/html"}) as c:
        return c.get(path).status_code


def ended(live: LiveServer) -> dict[SessionEnd, int]:
    with live.platform.factory() as s:
        rows = s.execute(select(LoginSession.end_reason, func.count()).where(LoginSession.end_reason.is_not(None))
                         .group_by(LoginSession.end_reason)).all()
    return dict(rows)  # type: ignore[arg-type]


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie_and_tokens(live: LiveServer) -> None:
    registered = register(live)
    assert me(live, registered["access_token"]) == 200
    # The web: the cookie copied elsewhere stops working when its owner logs out.
    browser = web_login(live, LOGIN, MEMBER_PASSWORD)
    cookie = browser.cookies["huzhu_session"]
    assert page_status(live, cookie) == 200
    assert browser.post("/logout", data={"csrf_token": page_csrf(browser, "/me")}).status_code == 303
    assert page_status(live, cookie) == 303  # to the login page
    # The API: the access token and the refresh token of a logged-out session are refused.
    pair = token_pair(live)
    assert live.client(pair["access_token"]).post("/auth/logout").status_code == 204
    assert me(live, pair["access_token"]) == 401
    assert live.client().post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert me(live, registered["access_token"]) == 200  # another session of the same account goes on
    assert ended(live) == {SessionEnd.LOGGED_OUT: 2}


def test_logging_out_everywhere_and_changing_the_password_end_every_session(live: LiveServer) -> None:
    register(live)
    first, second = token_pair(live), token_pair(live)
    cookie = web_login(live, LOGIN, MEMBER_PASSWORD).cookies["huzhu_session"]
    answer = live.client(first["access_token"]).post("/auth/logout-everywhere")
    assert answer.status_code == 200 and answer.json()["sessions_ended"] == 4  # with the registration's
    assert (me(live, first["access_token"]), me(live, second["access_token"]), page_status(live, cookie)) == (
        401, 401, 303)

    third = token_pair(live)
    cookie = web_login(live, LOGIN, MEMBER_PASSWORD).cookies["huzhu_session"]
    client = live.client(third["access_token"])
    wrong = client.post("/auth/password", json={"current_password": "not-my-pass-1", "new_password": "new-pass-2016"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "accounts.wrong_current_password"
    weak = client.post("/auth/password", json={"current_password": MEMBER_PASSWORD, "new_password": "12345678"})
    assert weak.status_code == 422
    assert me(live, third["access_token"]) == 200  # refused changes end nothing
    changed = client.post("/auth/password", json={"current_password": MEMBER_PASSWORD,
                                                  "new_password": "new-pass-2016"})
    assert changed.status_code == 200, changed.text
    assert me(live, third["access_token"]) == 401 and page_status(live, cookie) == 303
    assert me(live, changed.json()["access_token"]) == 200  # the changing client's new session
    assert live.client().post("/auth/token", data={"username": LOGIN, "password": MEMBER_PASSWORD}).status_code == 401
    token_pair(live, "new-pass-2016")
    assert ended(live)[SessionEnd.PASSWORD_CHANGED] == 2


def test_access_tokens_are_short_and_refresh_tokens_work_once(live: LiveServer) -> None:
    wall = FixedClock(datetime.now(UTC))
    live.platform.wall_clock = wall
    register(live)
    first = token_pair(live)
    assert first["expires_in"] == 15 * 60 and first["refresh_expires_in"] == 30 * 24 * 3600
    wall.advance(timedelta(minutes=16))
    assert me(live, first["access_token"]) == 401  # expired by the wall clock
    second = live.client().post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"] and me(live, second["access_token"]) == 200
    third = live.client().post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
    assert me(live, third["access_token"]) == 200

    # The first refresh token again: it was copied. The session ends for both holders.
    reuse = live.client().post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["code"] == "accounts.refresh_reused"
    assert me(live, third["access_token"]) == 401
    assert live.client().post("/auth/refresh", json={"refresh_token": third["refresh_token"]}).status_code == 401
    assert ended(live) == {SessionEnd.REFRESH_REUSED: 1}

    # However often it is refreshed, a session ends after 30 days.
    fourth = token_pair(live)
    wall.advance(timedelta(days=30, minutes=1))
    late = live.client().post("/auth/refresh", json={"refresh_token": fourth["refresh_token"]})
    assert late.status_code == 401 and late.json()["code"] == "accounts.refresh_invalid"


def test_the_csrf_token_is_bound_to_the_session(live: LiveServer) -> None:
    register(live)
    alice, bob = web_login(live, LOGIN, MEMBER_PASSWORD), web_login(live, LOGIN, MEMBER_PASSWORD)
    alice_token = page_csrf(alice, "/me/members/new")
    form = {"name": "绑定", "id_number": make_resident_id("110101", date(1980, 1, 1), 1, "M"), "relationship": "self"}
    # Another session's token, a visitor's token, the cookie's own value (double-submit): refused.
    assert bob.post("/me/members/new", data={**form, "csrf_token": alice_token}).status_code == 403
    visitor = web_client(live)
    assert bob.post("/me/members/new", data={**form, "csrf_token": page_csrf(visitor, "/login")}).status_code == 403
    forged = httpx.Client(base_url=live.url, headers={"Accept": "text/html"},
                          cookies={"huzhu_session": bob.cookies["huzhu_session"], "huzhu_csrf": "chosen"})
    assert forged.post("/me/members/new", data={**form, "csrf_token": "chosen"}).status_code == 403
    # Its own session's token: accepted.
    assert alice.post("/me/members/new", data={**form, "csrf_token": alice_token}).status_code == 303
    # Logging in gives a new session, so a token from before logging in is worth nothing after it.
    page_token = page_csrf(visitor, "/login")
    assert visitor.post("/login", data={"login": LOGIN, "password": MEMBER_PASSWORD,
                                        "csrf_token": page_token}).status_code == 303
    assert visitor.post("/logout", data={"csrf_token": page_token}).status_code == 403


def test_the_api_refuses_the_session_cookie_alone_for_a_change(live: LiveServer) -> None:
    create_staff(live.platform, "admin", "admin@x.example", "管理员")
    admin = web_login(live, "admin@x.example", PASSWORD)
    api = httpx.Client(base_url=live.url + "/api/v1", cookies=dict(admin.cookies), timeout=30)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert api.get("/me").status_code == 200  # reading with the cookie is fine
    refused = api.post("/runs", headers=key)  # a bodiless POST a forged page could send
    assert refused.status_code == 403 and refused.json()["code"] == "accounts.csrf_required"
    assert api.post("/claims/1/investigation").status_code == 403
    with live.platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(ApportionmentRun)) == 0
    accepted = api.post("/runs", headers={**key, "X-CSRF-Token": page_csrf(admin, "/admin")})
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize("mode", ["sandbox", "production"])
def test_cookies_are_httponly_samesite_and_secure_in_production(mode: str, database_url: str,
                                                                tmp_path: Path) -> None:
    settings = Settings(mode=mode, database_url=database_url, secret_key="x" * 40, id_number_key="k" * 40,
                        data_dir=tmp_path, plans_dir=REPO / "plans")
    platform = build_platform(settings)
    with platform.session() as s:
        from huzhu.accounts.service import register_account

        register_account(s, login=LOGIN, password=MEMBER_PASSWORD, display_name="饼干", now=platform.clock.now())
    app = create_app(platform)
    cookies: list[str] = []

    async def visit() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as client:
            page = await client.get("/login", headers={"Accept": "text/html"})
            cookies.extend(page.headers.get_list("set-cookie"))
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            answer = await client.post("/login", data={"login": LOGIN, "password": MEMBER_PASSWORD,
                                                        "csrf_token": token})
            assert answer.status_code == 303, answer.text
            cookies.extend(answer.headers.get_list("set-cookie"))

    thread = threading.Thread(target=lambda: asyncio.run(visit()))
    thread.start()
    thread.join()
    platform.engine.dispose()
    session_cookie = next(c for c in cookies if c.startswith("huzhu_session="))
    csrf_cookie = next(c for c in cookies if c.startswith("huzhu_csrf="))
    for cookie in (session_cookie, csrf_cookie):
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite", "path"} <= flags, cookie
        assert "samesite=lax" in cookie.lower()
        assert ("secure" in flags) == (mode == "production"), cookie
