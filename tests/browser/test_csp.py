"""Under the Content-Security-Policy (no inline script, no inline style) the pages still work in a
real browser — HTMX's ID check and the run's progress panel, the API docs — and the browser
reports no violation."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from .conftest import PASSWORD, START
from .test_portal import SELF_ID, log_in, new_context


def watch(page: Page) -> list[str]:
    """Every Content-Security-Policy violation the browser reports on this page."""
    violations: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    page.on("console", console)
    return violations


def test_pages_work_under_the_policy_and_break_none_of_it(server: Any, browser: Browser) -> None:
    context = new_context(browser)
    page = context.new_page()
    violations = watch(page)
    for path in ("/", "/plans", "/cases", "/report", "/login", "/register"):
        page.goto(server.url + path)
        expect(page.locator("main")).to_be_visible()
    page.goto(server.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("huzhu API")

    # HTMX under the policy: the ID number is checked as it is typed (hx-post with the CSRF header).
    log_in(page, server, "13800000003")
    page.goto(server.url + "/me/members/new")
    page.get_by_label("身份证号").fill(SELF_ID)
    expect(page.locator("#id-check")).to_contain_text("身份证号有效")
    context.close()

    # The admin's run: the progress panel polls with hx-get until the run is over.
    context = new_context(browser)
    page = context.new_page()
    violations += watch(page)
    log_in(page, server, server.staff["admin"])
    page.goto(server.url + "/admin")
    page.get_by_role("button", name="立即执行分摊和付款").click()
    expect(page.locator("#run-progress")).to_be_visible()
    context.close()
    assert violations == []


def test_after_failed_logins_the_owner_s_browser_solves_the_challenge(server: Any, browser: Browser) -> None:
    """Someone else guessed this login's password five times; its owner, in the browser, types the
    password, the page asks for the check, the browser solves it and the owner is in."""
    import httpx

    from huzhu.accounts import service as accounts

    login = "13800000077"
    with server.platform.session() as s:
        accounts.register_account(s, login=login, password=PASSWORD, display_name="挑战者", now=START)
    for _ in range(5):
        answer = httpx.post(server.url + "/api/v1/auth/token", data={"username": login, "password": "guess-pass-1"},
                            headers={"X-Forwarded-For": "10.9.9.9"})
        assert answer.status_code == 401
    context = new_context(browser)
    page = context.new_page()
    violations = watch(page)
    page.goto(server.url + "/login")
    page.get_by_label("手机号或电子邮箱").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#challenge-status")).to_be_visible()
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_have_text("您好，挑战者")
    context.close()
    assert violations == []
