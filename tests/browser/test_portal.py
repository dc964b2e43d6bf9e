"""The article's story in a real browser, in Chinese, then the key pages again in English.

One member registers, adds herself and her husband (ID checked as typed), tries to add her
75-year-old father to the accident plan (refused, with the reason), joins, tops up, files a claim
with evidence (a wrong file type and a too-large file are refused), an investigator reports, a
reviewer approves at the computed amount, another member objects, a second reviewer dismisses the
objection, the admin moves the sandbox clock past the notice and runs the apportionment; the husband's
share shows up as a deduction and the public sees the case paid. A POST without a CSRF token is
refused with 403 and writes nothing.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select

from huzhu.claims.models import Evidence
from huzhu.identity import make_resident_id
from huzhu.members.models import Member

PASSWORD = "test-pass-2016"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

MOBILE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
SELF_ID = make_resident_id("450321", date(1990, 6, 15), 12, "F")  # 25, 广西
HUSBAND_ID = make_resident_id("450321", date(1988, 1, 9), 15, "M")
FATHER_ID = make_resident_id("450321", date(1940, 5, 1), 21, "M")  # 75: too old for the accident plan
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

pytestmark = pytest.mark.e2e


def new_context(browser: Browser, *, mobile: bool = False, locale: str = "zh-CN") -> BrowserContext:
    context = browser.new_context(viewport=MOBILE if mobile else DESKTOP, locale=locale,
                                  extra_http_headers={"Accept-Language": locale})
    context.set_default_timeout(20_000)  # a loaded CI machine runs the other test worker too
    return context


def log_in(page: Page, server: Any, login: str) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("手机号或电子邮箱").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def advance_clock(page: Page, server: Any, days: int) -> None:
    page.goto(server.url + "/admin")
    page.get_by_label("前进天数").fill(str(days))
    page.get_by_role("button", name="调整时钟").click()
    expect(page.locator("h1")).to_have_text("管理")


def count(server: Any, query) -> int:  # noqa: ANN001
    with server.platform.factory() as s:
        return s.scalar(query) or 0


def test_the_story_in_the_browser(server: Any, browser: Browser) -> None:  # noqa: PLR0915
    url = server.url
    public = new_context(browser, mobile=True)
    pub = public.new_page()
    pub.goto(url + "/")
    expect(pub.locator("h1")).to_have_text("会员互助，全程公开")
    expect(pub.get_by_text("互助不是保险")).to_be_visible()
    shot(pub, "01-home-zh-375")
    pub.goto(url + "/plans/comprehensive-accident")
    expect(pub.get_by_text("加入时存入", exact=True)).to_be_visible()
    shot(pub, "02-plan-zh-375")

    # --- a member registers (on a phone) ------------------------------------------------------
    member_ctx = new_context(browser, mobile=True)
    me = member_ctx.new_page()
    me.goto(url + "/register")
    shot(me, "03-register-zh-375")
    me.get_by_label("手机号或电子邮箱").fill("13800000001")
    me.get_by_label("您的姓名").fill("彭静")
    me.get_by_label("密码", exact=True).fill(PASSWORD)
    me.get_by_label("再次输入密码").fill(PASSWORD)
    me.get_by_role("button", name="注册").click()
    expect(me.locator("h1")).to_have_text("您好，彭静")

    # --- adds herself; the ID number is checked as it is typed --------------------------------
    me.get_by_role("link", name="添加家庭成员").first.click()
    me.get_by_label("姓名").fill("彭静")
    id_field = me.get_by_label("身份证号")
    id_field.fill(SELF_ID[:-1] + ("0" if SELF_ID[-1] != "0" else "1"))
    expect(me.locator("#id-check")).to_contain_text("校验位")
    id_field.fill(SELF_ID)
    expect(me.locator("#id-check")).to_contain_text("身份证号有效")
    expect(me.locator("#id-check")).to_contain_text("广西")
    shot(me, "04-add-member-id-check-zh-375")
    me.get_by_role("button", name="添加成员").click()
    expect(me.get_by_text("成员已添加。")).to_be_visible()
    shot(me, "05-join-zh-375")
    me.locator("form:has(input[value='comprehensive-accident'])").get_by_role("button").click()
    expect(me.get_by_text("加入成功")).to_be_visible()

    # --- her husband joins too ---------------------------------------------------------------
    me.goto(url + "/me/members/new")
    me.get_by_label("姓名").fill("李强")
    me.get_by_label("身份证号").fill(HUSBAND_ID)
    expect(me.locator("#id-check")).to_contain_text("身份证号有效")
    me.get_by_label("与您的关系").select_option("spouse")
    me.get_by_role("button", name="添加成员").click()
    me.locator("form:has(input[value='comprehensive-accident'])").get_by_role("button").click()
    expect(me.get_by_text("加入成功")).to_be_visible()

    # --- a refused join: her father is 75, the accident plan ends at 70 ----------------------
    me.goto(url + "/me/members/new")
    me.get_by_label("姓名").fill("彭父")
    me.get_by_label("身份证号").fill(FATHER_ID)
    me.get_by_label("与您的关系").select_option("parent")
    expect(me.locator("#id-check")).to_contain_text("身份证号有效")
    me.get_by_role("button", name="添加成员").click()
    me.locator("form:has(input[value='comprehensive-accident'])").get_by_role("button").click()
    alert = me.get_by_role("alert")
    expect(alert).to_contain_text("不符合加入本计划的条件")
    expect(alert).to_contain_text("不超过70周岁")
    expect(alert).to_contain_text("75")
    shot(me, "06-join-refused-zh-375")

    # --- tops up the husband's balance -------------------------------------------------------
    me.goto(url + "/me")
    husband = me.locator("section", has=me.get_by_role("heading", name=re.compile("李强")))
    husband.get_by_role("link", name="充值").click()
    me.get_by_label("金额（元）").fill("20")
    shot(me, "07-top-up-zh-375")
    me.get_by_role("button", name="充值").click()
    expect(me.get_by_text("充值成功。")).to_be_visible()
    expect(me.locator("section", has=me.get_by_role("heading", name=re.compile("李强")))).to_contain_text("29.00 元")
    shot(me, "08-dashboard-zh-375")

    # --- the clock moves on; an accident on 2016-02-02, claim filed with evidence -------------
    admin_ctx = new_context(browser)
    admin = admin_ctx.new_page()
    log_in(admin, server, server.staff["admin"])
    expect(admin.locator("h1")).to_have_text("管理")
    advance_clock(admin, server, 2)

    me.goto(url + "/me/claims/new")
    me.locator("fieldset.question", has=me.locator("legend", has_text="彭静")).get_by_label(
        re.compile("意外伤残.*综合意外")).check()
    me.get_by_label("出险日期").fill("2016-02-02")
    me.get_by_label("地点").fill("广西阳朔县")
    me.get_by_label("经过").fill("骑车时被货车撞倒，腿部骨折。")
    me.get_by_label("受益人", exact=True).fill("彭静")
    me.get_by_label("受益人银行账号").fill("6222020000000000011")
    me.get_by_label("伤残等级（1–10，用逗号分隔）").fill("2")
    me.get_by_label("材料 1：类型").select_option("medical")
    me.get_by_label("材料 1：文件").set_input_files({"name": "medical.png", "mimeType": "image/png", "buffer": PNG})
    shot(me, "09-claim-form-zh-375")
    me.get_by_role("button", name="提交申请").click()
    expect(me.get_by_text("您的申请已收到")).to_be_visible()
    claim_url = me.url.split("?")[0]
    evidence_before = count(server, select(func.count()).select_from(Evidence))
    assert evidence_before == 1

    # --- bad uploads are refused cleanly, nothing stored --------------------------------------
    me.get_by_label("材料 1：文件").set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    me.get_by_role("button", name="上传").click()
    expect(me.get_by_role("alert")).to_contain_text("不是 PDF、JPEG 或 PNG 文件")
    shot(me, "10-upload-wrong-type-zh-375")
    big = PNG + b"\x00" * 250_000
    me.get_by_label("材料 1：文件").set_input_files({"name": "huge.png", "mimeType": "image/png", "buffer": big})
    me.get_by_role("button", name="上传").click()
    expect(me.get_by_role("alert")).to_contain_text("超过了")
    assert count(server, select(func.count()).select_from(Evidence)) == evidence_before
    me.goto(claim_url)
    expect(me.get_by_text("medical.png")).to_be_visible()
    expect(me.locator("li", has_text="medical.png")).to_contain_text("病历")
    expect(me.locator("li", has_text="已提交申请")).to_be_visible()  # the timeline note, in Chinese
    shot(me, "11-claim-progress-zh-375")

    # --- the investigator reports ------------------------------------------------------------
    inv_ctx = new_context(browser)
    inv = inv_ctx.new_page()
    log_in(inv, server, server.staff["investigator"])
    expect(inv.locator("h1")).to_have_text("调查队列")
    shot(inv, "12-investigator-queue-zh")
    inv.get_by_role("button", name="开始调查").click()
    expect(inv.locator("h1")).to_contain_text("调查报告")
    inv.get_by_label("调查公司").fill("某第三方调查公司")
    inv.get_by_label("公开摘要（不含姓名和身份证号）").fill("交通事故属实，经伤残鉴定为二级伤残。")
    inv.get_by_label("伤残等级（1–10，用逗号分隔）").fill("2")
    shot(inv, "13-investigation-report-zh")
    inv.get_by_role("button", name="提交报告").click()
    expect(inv.get_by_text("报告已提交")).to_be_visible()

    # --- the reviewer sees every rule check and the computed amount, and approves -------------
    rev_ctx = new_context(browser)
    rev = rev_ctx.new_page()
    log_in(rev, server, server.staff["reviewer"])
    expect(rev.locator("h1")).to_have_text("审核工作台")
    rev.get_by_role("link", name="审核", exact=True).first.click()
    expect(rev.locator("ul.checks li")).to_have_count(5)
    expect(rev.locator(".amount")).to_have_text("90,000.00 元")
    shot(rev, "14-review-workbench-zh")
    rev.get_by_label(re.compile("按 90,000.00 元 通过")).check()
    rev.get_by_label("理由").fill("符合计划规则")
    rev.get_by_role("button", name="提交审核结论").click()
    expect(rev.get_by_text("审核结论已记录。")).to_be_visible()

    # --- another member sees the case in notice and objects ----------------------------------
    pub.goto(url + "/cases")
    expect(pub.get_by_text("彭*")).to_be_visible()
    case_link = pub.locator("table").first.get_by_role("link").first
    case_no = case_link.inner_text()
    case_link.click()
    expect(pub.get_by_text("交通事故属实")).to_be_visible()
    expect(pub.get_by_text("90,000.00 元").first).to_be_visible()
    shot(pub, "15-case-in-notice-zh-375")

    obj_ctx = new_context(browser, mobile=True)
    obj = obj_ctx.new_page()
    log_in(obj, server, "13800000003")
    obj.goto(f"{url}/cases/{case_no}")
    obj.get_by_role("link", name="对该事件提出异议").click()
    obj.get_by_label("异议理由").fill("加入后第二天即出险，请核实受伤时间。")
    shot(obj, "16-objection-form-zh-375")
    obj.get_by_role("button", name="提交异议").click()
    expect(obj.get_by_text("您的异议已记录")).to_be_visible()

    # --- the first reviewer is not offered the resolve form; a second reviewer dismisses it --
    rev.goto(url + "/staff/objections")
    expect(rev.get_by_text("您审批或调查过该事件，因此须由另一位审核员处理该异议。")).to_be_visible()
    expect(rev.get_by_role("button", name="提交处理")).to_have_count(0)
    rev2_ctx = new_context(browser)
    rev2 = rev2_ctx.new_page()
    log_in(rev2, server, server.staff["reviewer2"])
    rev2.goto(url + "/staff/objections")
    shot(rev2, "17-objections-queue-zh")
    rev2.get_by_label("处理意见（将公开）").fill("调查报告与医院记录确认受伤时间为 2016-02-02，在生效日之后。")
    rev2.get_by_label("驳回：事件继续").check()
    rev2.get_by_role("button", name="提交处理").click()
    expect(rev2.get_by_text("已驳回")).to_be_visible()

    # --- the clock passes the notice; the admin runs the apportionment ------------------------
    advance_clock(admin, server, 8)
    admin.get_by_role("button", name="立即执行分摊和付款").click()
    result = admin.locator("#run-progress")  # polled by HTMX until the background run is over
    expect(result).to_contain_text("已完成")
    expect(result).to_contain_text(case_no)
    expect(result).to_contain_text("一致")
    admin.get_by_role("button", name="检查所有账目不变量").click()
    expect(admin.get_by_text("所有不变量均成立")).to_be_visible()
    shot(admin, "18-admin-run-zh")

    # --- the member sees the husband's deduction; the public sees the paid case --------------
    me.goto(url + "/me")
    deductions = me.locator("table", has=me.get_by_role("columnheader", name="您的分摊"))
    expect(deductions).to_contain_text(case_no)
    expect(deductions).to_contain_text("李强")
    expect(deductions).to_contain_text("3.00 元")
    shot(me, "19-dashboard-deduction-zh-375")
    # ... and proves the deduction is inside the published run totals (RFC 9162 inclusion proof).
    me.get_by_role("link", name="李强").first.click()
    me.get_by_role("link", name="核对我的分摊").first.click()
    expect(me.locator(".verified")).to_contain_text("已验证")
    expect(me.locator("code").first).to_contain_text('"share":"3.00"')
    shot(me, "19b-share-proof-zh-375")

    pub.goto(f"{url}/cases/{case_no}")
    expect(pub.get_by_text("已支付").first).to_be_visible()
    expect(pub.get_by_text("托管银行已向受益人支付")).to_be_visible()
    expect(pub.get_by_text("另一位审核员驳回了异议")).to_be_visible()
    shot(pub, "20-case-paid-zh-375")
    pub.goto(url + "/runs")
    pub.locator("table").get_by_role("link").first.click()
    expect(pub.locator("h1")).to_contain_text("分摊批次")
    shot(pub, "21-run-zh-375")
    pub.goto(url + "/report")
    expect(pub.locator("figure.chart svg")).to_have_count(3)
    expect(pub.get_by_text("一致").first).to_be_visible()
    shot(pub, "22-report-zh-375")
    desk = new_context(browser).new_page()
    desk.goto(url + "/report")
    shot(desk, "22-report-zh-desktop")
    response = desk.request.get(url + "/open-data/cases.json")
    assert response.ok
    body = response.text()
    assert case_no in body and "彭静" not in body and SELF_ID not in body and "6222020000000000011" not in body

    # --- the key pages again in English -------------------------------------------------------
    pub.goto(url + "/?lang=en")
    expect(pub.locator("h1")).to_have_text("Members helping members, in the open")
    shot(pub, "23-home-en-375")
    pub.goto(f"{url}/cases/{case_no}")  # the cookie keeps English
    expect(pub.get_by_text("Paid to the beneficiary by the custodian bank")).to_be_visible()
    expect(pub.get_by_text("¥90,000.00").first).to_be_visible()
    shot(pub, "24-case-en-375")
    me.goto(url + "/me?lang=en")
    expect(me.get_by_role("heading", name="Deductions")).to_be_visible()
    shot(me, "25-dashboard-en-375")
    english = new_context(browser, locale="en-US").new_page()  # Accept-Language alone
    english.goto(url + "/report")
    expect(english.locator("h1")).to_have_text("Operating report")
    shot(english, "26-report-en-desktop")
    for context in (public, member_ctx, admin_ctx, inv_ctx, rev_ctx, rev2_ctx, obj_ctx):
        context.close()


def test_post_without_csrf_token_is_refused_and_writes_nothing(server: Any, browser: Browser) -> None:
    context = new_context(browser)
    page = context.new_page()
    log_in(page, server, "13800000003")
    expect(page.locator("h1")).to_contain_text("您好")
    before = count(server, select(func.count()).select_from(Member))
    response = page.request.post(server.url + "/me/members/new",
                                 form={"name": "无令牌", "id_number": HUSBAND_ID[:-2] + "99", "relationship": "child"})
    assert response.status == 403
    assert "安全令牌" in response.text()
    response = page.request.post(server.url + "/me/members/new",
                                 form={"name": "无令牌", "id_number": SELF_ID, "relationship": "child",
                                       "csrf_token": "forged"})
    assert response.status == 403
    assert count(server, select(func.count()).select_from(Member)) == before
    page.set_content(response.text())
    shot(page, "27-csrf-refused-zh")
    context.close()


def test_roles_redirect_or_403(server: Any, browser: Browser) -> None:
    context = new_context(browser)
    page = context.new_page()
    page.goto(server.url + "/admin")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin"))
    log_in(page, server, server.staff["investigator"])
    response = page.goto(server.url + "/admin")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("无权访问")
    shot(page, "28-wrong-role-403-zh")
    context.close()
