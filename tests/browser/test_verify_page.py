"""The member's page verifies their own balance and share leaves in the browser (sumproof.js with
WebCrypto) against the roots the public API publishes, on a 375 px screen, on each database: it says
"已验证" with the details folded away; a root that does not match what the member's leaf leads to
(here: the public root's sum changed in flight) is shown as not verified."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Route, expect

from databases import BACKENDS, fresh_database

from .conftest import REPO

pytestmark = pytest.mark.e2e
PORTS = iter(range(18240, 18260))
ME = "13911112222"


@pytest.fixture(scope="module", params=BACKENDS)
def verify_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import uvicorn

    from huzhu.app import build_platform, create_app
    from huzhu.clock import FixedClock
    from huzhu.config import Settings
    from huzhu.jobs import run_jobs
    from integration.helpers import (
        DRIVING,
        approved_case,
        at,
        driving_facts,
        import_pool,
        join_member,
        make_staff,
    )

    tmp = tmp_path_factory.mktemp(f"verify-{request.param}")
    with fresh_database(request.param, tmp) as url:
        clock = FixedClock(datetime.fromisoformat("2015-03-01T10:00:00+08:00"))
        platform = build_platform(Settings(mode="sandbox", database_url=url, data_dir=tmp / "data",
                                           plans_dir=REPO / "plans", leftover_rule_v2_from=date(2015, 1, 1)),
                                  clock=clock)
        staff = make_staff(platform, clock)
        import_pool(platform, clock, tmp / "pool.csv", ["3.00", "4.50", "9.00", "12.00", "100.00"] * 4)
        me = join_member(platform, clock, name="会员乙", plans=(DRIVING,), phone=ME)
        claimant = join_member(platform, clock, name="司机甲", plans=(DRIVING,))
        clock.set(at("2015-03-05"))
        approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                      incident=date(2015, 3, 3), facts=driving_facts("37.37"))
        clock.set(at("2015-03-13"))
        report = run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=clock.now())
        assert report.run_no and report.liabilities_published
        port = next(PORTS) + (0 if request.param == "sqlite" else 10)
        uv = uvicorn.Server(uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not uv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "member_id": me.member_id}
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
            platform.engine.dispose()


def _page(browser: Browser, server: dict[str, Any]):  # noqa: ANN202
    from integration.helpers import PASSWORD

    context = browser.new_context(viewport={"width": 375, "height": 800}, locale="zh-CN",
                                  extra_http_headers={"Accept-Language": "zh-CN"})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server["url"] + "/login")
    page.get_by_label("手机号或电子邮箱").fill(ME)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/me**")
    return context, page, errors


def test_the_member_page_verifies_balance_and_share_in_the_browser(browser: Browser, verify_server: dict) -> None:
    context, page, errors = _page(browser, verify_server)
    page.goto(f"{verify_server['url']}/me/members/{verify_server['member_id']}")
    page.get_by_role("link", name="自己核对").click()
    items = page.locator(".verify-item")
    expect(items).to_have_count(2)
    expect(page.locator('.verify-item[data-result="verified"]')).to_have_count(2)
    expect(page.locator(".verify-status").first).to_contain_text("已验证")
    # The working is folded away, and says which root it reached and that no signed checkpoint was checked.
    details = page.locator("details.fold").first
    assert details.get_attribute("open") is None
    details.locator("summary").click()
    expect(details).to_contain_text("root")
    expect(details).to_contain_text("签名检查点")
    expect(page.get_by_text("这证明了什么")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    page.screenshot(path=str(REPO / "artifacts" / "screenshots" / "member-verify-375.png"), full_page=True)
    assert errors == []
    context.close()


def test_a_published_root_that_does_not_match_is_not_verified(browser: Browser, verify_server: dict) -> None:
    context, page, _ = _page(browser, verify_server)

    def understated(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["root"]["sum"] = "0.01"  # liabilities understated in what the public sees
        route.fulfill(response=response, body=json.dumps(body), headers={**response.headers})

    page.route("**/api/v1/liabilities", understated)
    page.goto(f"{verify_server['url']}/me/members/{verify_server['member_id']}/verify")
    balance = page.locator('.verify-item[data-kind="balance"]')
    expect(balance).to_have_attribute("data-result", "failed")
    expect(balance.locator(".verify-status")).to_contain_text("未通过验证")
    expect(page.locator('.verify-item[data-kind="share"]')).to_have_attribute("data-result", "verified")
    context.close()
