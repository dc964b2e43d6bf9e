"""The custody pages in a browser (375 px wide), on SQLite and PostgreSQL, with the sandbox bank
in-process (its own database; the same XML messages as over HTTP): the member's "pay as your bank",
booked from the bank's camt.054; and the staff's exceptions queue, where a credit with an unknown
reference is proposed by one staff member, refused to that same one, and approved by another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from databases import BACKENDS, fresh_database
from huzhu.banking import sync as banking
from huzhu.custody.bank_models import CustodyException

from .conftest import PASSWORD, REPO, START, Server, serve_in_thread, shot

PHONE = "13800000077"


@pytest.fixture(scope="module", params=BACKENDS)
def bank_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from huzhu.accounts import service as accounts
    from huzhu.app import build_platform, create_app
    from huzhu.config import Settings
    from huzhu.identity import make_resident_id
    from huzhu.members import service as members

    tmp = tmp_path_factory.mktemp(f"custody-web-{request.param}")
    with fresh_database(request.param, tmp) as database_url:
        settings = Settings(mode="sandbox", database_url=database_url, data_dir=tmp / "data", plans_dir=REPO / "plans",
                            custody_bank="local",
                            custody_bank_database_url=f"sqlite:///{(tmp / 'bank.sqlite').as_posix()}")
        platform = build_platform(settings)
        platform.clock.set(START)
        staff = {"admin": "admin@huzhu.example", "reviewer": "reviewer@huzhu.example"}
        with platform.session() as s:
            for role, login in staff.items():
                accounts.register_account(s, login=login, password=PASSWORD, display_name=f"测试{role}", role=role,
                                         now=START)
            owner = accounts.register_account(s, login=PHONE, password=PASSWORD, display_name="转账会员", now=START)
            members.add_member(s, account_id=owner.id, name="王芳", now=START,
                               id_number=make_resident_id("440106", date(1986, 4, 4), 9, "F"))
        try:
            with serve_in_thread(create_app(platform)) as url:
                yield Server(url=url, platform=platform, staff=staff)
        finally:  # after the server has stopped
            platform.bank.close()
            platform.engine.dispose()


def _log_in(browser: Browser, server: Server, login: str) -> Page:
    page = browser.new_context(viewport={"width": 375, "height": 800}, locale="zh-CN").new_page()
    page.goto(server.url + "/login")
    page.get_by_label("手机号或电子邮箱").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="登录")).to_have_count(0)
    return page


def _member_id(server: Server) -> int:
    from huzhu.accounts.service import find_account_by_login
    from huzhu.members.models import Member

    with server.platform.read_factory() as s:  # names are sealed: found through the login's phone digest
        account = find_account_by_login(s, PHONE)
        return s.scalar(select(Member.id).where(Member.account_id == account.id))


def _no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_member_pays_as_their_bank(browser: Browser, bank_server: Server) -> None:
    page = _log_in(browser, bank_server, PHONE)
    member_id = _member_id(bank_server)
    page.goto(f"{bank_server.url}/me/members/{member_id}")
    page.get_by_role("link", name="银行转账充值").click()
    expect(page.get_by_role("heading", name="银行转账充值")).to_be_visible()
    # Reading the page opens nothing: the member opens the virtual sub-account with a form (POST, CSRF).
    expect(page.get_by_test_id("virtual-account")).to_contain_text("尚未开立")
    page.reload()
    with bank_server.platform.read_factory() as s:  # type: ignore[attr-defined]
        assert banking.reference_of(s, member_id) is None
    page.get_by_role("button", name="开立我的虚拟子账户").click()
    expect(page.get_by_role("status")).to_contain_text("虚拟子账户已开立")
    expect(page.get_by_test_id("virtual-account")).to_contain_text("HUZHU-CUSTODY-0001-")
    expect(page.get_by_role("button", name="开立我的虚拟子账户")).to_have_count(0)
    expect(page.get_by_test_id("balance")).to_contain_text("0.00")
    page.get_by_label("金额（元）").fill("20.00")
    page.get_by_role("button", name="模拟我的银行付款").click()
    expect(page.get_by_role("status")).to_contain_text("到账通知已入账")
    expect(page.get_by_test_id("balance")).to_contain_text("20.00")
    _no_horizontal_scroll(page)
    shot(page, "custody-member-pay-as-bank")
    page.context.close()


def test_exceptions_queue_four_eyes(browser: Browser, bank_server: Server) -> None:
    platform: Any = bank_server.platform
    member_id = _member_id(bank_server)
    platform.bank.sandbox.incoming_transfer(amount="7.00", reference="TYPO-REF-1", payer_name="付款人",
                                            payer_account="6222020200001234567", end_to_end_id="WEB-UNKNOWN-1")
    banking.pull_notifications(platform.factory, platform.bank.connector, now=platform.clock.now())
    with platform.read_factory() as s:
        exc = s.scalar(select(CustodyException).where(CustodyException.subject.is_not(None))
                       .where(CustodyException.kind == "unknown_reference"))
    assert exc is not None
    admin = _log_in(browser, bank_server, bank_server.staff["admin"])
    admin.goto(bank_server.url + "/staff/custody")
    card = admin.locator(f"#x{exc.id}")
    expect(card).to_contain_text("附言无法识别的入账")
    card.get_by_label("处理方式", exact=True).select_option("book_to_member")
    card.get_by_label("会员编号或更正后的账户（处理方式需要时填写）").fill(str(member_id))
    card.get_by_label("说明", exact=True).fill("会员来电：附言写错")
    card.get_by_role("button", name="提出方案").click()
    card = admin.locator(f"#x{exc.id}")
    expect(card.get_by_test_id("status")).to_have_text("待决定")
    card.get_by_role("button", name="批准并执行").click()
    expect(admin.get_by_role("alert")).to_be_visible()  # four eyes: not the proposer
    expect(admin.locator(f"#x{exc.id}").get_by_test_id("status")).to_have_text("待决定")
    _no_horizontal_scroll(admin)
    reviewer = _log_in(browser, bank_server, bank_server.staff["reviewer"])
    reviewer.goto(bank_server.url + "/staff/custody?show=all")
    reviewer.locator(f"#x{exc.id}").get_by_role("button", name="批准并执行").click()
    expect(reviewer.locator(f"#x{exc.id}")).to_have_count(0)  # the queue shows what is unresolved
    reviewer.goto(bank_server.url + "/staff/custody?show=all")
    expect(reviewer.locator(f"#x{exc.id}").get_by_test_id("status")).to_have_text("已解决")
    shot(reviewer, "custody-exceptions-approved")
    with platform.read_factory() as s:
        row = s.get(CustodyException, exc.id)
        assert row.status == "resolved" and row.approved_by_account_id != row.proposed_by_account_id
    member_page = _log_in(browser, bank_server, PHONE)
    member_page.goto(f"{bank_server.url}/me/members/{member_id}/bank")
    expect(member_page.get_by_test_id("balance")).to_contain_text("27.00")
    for p in (admin, reviewer, member_page):
        p.context.close()


def test_the_admin_run_also_exchanges_messages_with_the_bank(browser: Browser, bank_server: Server) -> None:
    """The admin's "run" button reads what the bank said (here a deposit the bank notified but nobody
    fetched yet) and sends what the run queued, and says so; a bank that does not answer is reported
    and the run still completes."""
    platform: Any = bank_server.platform
    member_id = _member_id(bank_server)
    with platform.read_factory() as s:
        virtual = banking.reference_of(s, member_id).virtual_account
    assert virtual  # opened in the first test of this module
    platform.bank.sandbox.incoming_transfer(amount="5.00", reference=virtual, payer_name="王芳",
                                            payer_account="6222020200007654321", end_to_end_id="WEB-RUN-DEP-1")
    admin = _log_in(browser, bank_server, bank_server.staff["admin"])
    admin.goto(bank_server.url + "/admin")
    admin.get_by_role("button", name="立即执行分摊和付款").click()
    expect(admin.get_by_test_id("bank-sync")).to_contain_text("入账 1 笔充值")
    expect(admin.get_by_test_id("bank-sync-error")).to_have_count(0)
    _no_horizontal_scroll(admin)
    shot(admin, "custody-admin-run-with-bank")
    with platform.read_factory() as s:
        from huzhu.custody.bank_models import BankEntry

        assert s.scalar(select(BankEntry).where(BankEntry.end_to_end_id == "WEB-RUN-DEP-1")).kind == "deposit"

    platform.bank.connector.down = True
    try:
        admin.goto(bank_server.url + "/admin")
        admin.get_by_role("button", name="立即执行分摊和付款").click()
        expect(admin.get_by_test_id("bank-sync-error")).to_contain_text("托管银行没有响应")
    finally:
        platform.bank.connector.down = False
    admin.context.close()
