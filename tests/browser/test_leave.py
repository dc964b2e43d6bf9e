"""Leaving a plan from the member pages: cover ends, and leaving the last plan refunds the balance
through the custodian (a pending refund posted when the bank books it)."""

from __future__ import annotations

from datetime import date
from typing import Any

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from huzhu.custody.models import BankTransaction
from huzhu.identity import make_resident_id
from huzhu.members.models import Enrollment, Member
from huzhu.members.sealing import id_number_vault

from .test_portal import PASSWORD, new_context, shot

LEAVER_ID = make_resident_id("110101", date(1985, 4, 4), 41, "M")


def test_member_leaves_the_last_plan_and_gets_the_balance_back(server: Any, browser: Browser) -> None:
    url = server.url
    context = new_context(browser, mobile=True)
    page = context.new_page()
    page.goto(url + "/register")
    page.get_by_label("手机号或电子邮箱").fill("13900000077")
    page.get_by_label("您的姓名").fill("王离")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("再次输入密码").fill(PASSWORD)
    page.get_by_role("button", name="注册").click()
    page.get_by_role("link", name="添加家庭成员").first.click()
    page.get_by_label("姓名").fill("王离")
    page.get_by_label("身份证号").fill(LEAVER_ID)
    # The check as they type answers before the member taps "add" (as a person would see it).
    expect(page.locator("#id-check")).to_contain_text("身份证号有效")
    page.get_by_role("button", name="添加成员").click()
    page.locator("form:has(input[value='comprehensive-accident'])").get_by_role("button").click()
    expect(page.get_by_text("加入成功")).to_be_visible()

    with server.platform.read_factory() as s:
        member = s.scalar(select(Member).where(Member.id_number_digest == id_number_vault(s).digest(LEAVER_ID)))
        assert member is not None
    # Top up, withdraw part of it, and be refused a withdrawal above the balance (nothing moves).
    page.goto(f"{url}/me/members/{member.id}/top-up")
    page.get_by_label("金额（元）").fill("10")
    page.get_by_role("button", name="充值").click()
    expect(page.get_by_text("充值成功。")).to_be_visible()
    page.goto(f"{url}/me/members/{member.id}/withdraw")
    page.get_by_label("金额（元）").fill("5.50")
    page.get_by_label("您的银行账号").fill("6222020000000000777")
    page.get_by_role("button", name="提现").click()
    expect(page.get_by_text("提现已转入您的银行账户。")).to_be_visible()
    page.goto(f"{url}/me/members/{member.id}/withdraw")
    page.get_by_label("金额（元）").fill("1000")
    page.get_by_label("您的银行账号").fill("6222020000000000777")
    page.get_by_role("button", name="提现").click()
    # The engine's refusal, with its amounts, in the member's language.
    expect(page.get_by_role("alert")).to_contain_text("可用余额为 13.50 元，无法提现 1000.00 元")
    with server.platform.read_factory() as s:
        refunds = s.scalars(select(BankTransaction.amount_fen).where(BankTransaction.direction == "DBIT")
                            .where(BankTransaction.remittance_info.contains(f"member {member.id}"))).all()
        assert refunds == [550]

    page.goto(f"{url}/me/members/{member.id}")
    page.get_by_role("link", name="退出").click()
    expect(page.get_by_text("全部余额将通过托管银行退回")).to_be_visible()
    shot(page, "29-leave-zh-375")
    page.get_by_label("您的银行账号").fill("6222020000000000777")
    page.get_by_role("button", name="确认退出").click()
    expect(page.get_by_text("您已退出该计划。")).to_be_visible()

    with server.platform.read_factory() as s:
        enrollment = s.scalar(select(Enrollment).where(Enrollment.member_id == member.id))
        assert enrollment is not None and enrollment.status == "left"
        refunds = s.scalars(select(BankTransaction).where(BankTransaction.direction == "DBIT",
                                                          BankTransaction.amount_fen == 1350)).all()
        assert any("refund" in r.remittance_info for r in refunds)
