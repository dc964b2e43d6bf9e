"""Issue 13: a member's whole journey on a phone (375 px), in Chinese, with nothing left out — one
story per role, each page checked by axe-core (no violation of any impact), for 44 px touch targets,
no sideways scrolling and one date format, with its screenshot under ``artifacts/screenshots/``.

The stories share one fresh server per database (``journey_server``), in this order: a new member
(a family with a low balance), the claimant (the claim form's defects), the investigator, the
reviewer who approves, the objector, the approving reviewer (offered no resolve form), the admin
(one state per case), the second reviewer, the payout seen by the claimant (timeline, bank
reference, PDF receipt), the objector told the outcome, the proof in plain words, the auditor, the
complaint channel, and last the public (mobile menu, plan rules, the notice page's facts, the run
page as cards, the help centre, open data) — then the key pages again at 1280 px.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select

from databases import BACKENDS, fresh_database
from huzhu.claims.models import Claim, Evidence
from huzhu.identity import make_resident_id
from huzhu.notices.models import Case, CaseStatus

from .checks import audit, overflow
from .conftest import PASSWORD, _serve

pytestmark = pytest.mark.e2e

MOBILE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
PENG_ID = make_resident_id("450321", date(1990, 6, 15), 12, "F")  # 25, 广西
HUSBAND_ID = make_resident_id("450321", date(1988, 1, 9), 15, "M")
MOTHER_ID = make_resident_id("440106", date(1960, 4, 4), 22, "F")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module", params=BACKENDS)
def journey_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server of its own (the stories move its clock), with an auditor besides the conftest's staff."""
    tmp = tmp_path_factory.mktemp(f"journey-{request.param}")
    with fresh_database(request.param, tmp) as url:
        for server in _serve(tmp, url):
            from huzhu.accounts import service as accounts

            with server.platform.session() as s:
                accounts.register_account(s, login="auditor@huzhu.example", password=PASSWORD, display_name="测试审计员",
                                         role="auditor", now=server.platform.clock.now())
            server.staff["auditor"] = "auditor@huzhu.example"
            yield server


def phone(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport=MOBILE, locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"},
                                  accept_downloads=True, has_touch=True, is_mobile=True, device_scale_factor=2)
    context.set_default_timeout(20_000)
    return context


def desk(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    context.set_default_timeout(20_000)
    return context


def log_in(page: Page, server: Any, login: str) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("手机号或电子邮箱").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="登录")).to_have_count(0)


def count(server: Any, query) -> int:  # noqa: ANN001
    with server.platform.read_factory() as s:
        return s.scalar(query) or 0


def advance(server: Any, days: int) -> None:
    server.platform.clock.advance(timedelta(days=days))


def register(page: Page, server: Any, login: str, name: str) -> None:
    page.goto(server.url + "/register")
    page.get_by_label("手机号或电子邮箱").fill(login)
    page.get_by_label("您的姓名").fill(name)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("再次输入密码").fill(PASSWORD)
    page.get_by_role("button", name="注册").click()
    expect(page.locator("h1")).to_have_text(f"您好，{name}")


def add_member(page: Page, server: Any, name: str, id_number: str, relationship: str = "self") -> None:
    page.goto(server.url + "/me/members/new")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("身份证号").fill(id_number)
    expect(page.locator("#id-check")).to_contain_text("身份证号有效")
    page.get_by_label("与您的关系").select_option(relationship)
    page.get_by_role("button", name="添加成员").click()
    expect(page.get_by_text("成员已添加。")).to_be_visible()


def join(page: Page, plan_code: str) -> None:
    page.locator(f"form:has(input[value='{plan_code}'])").get_by_role("button").click()
    expect(page.get_by_text("加入成功")).to_be_visible()


def in_viewport(page: Page, locator) -> bool:  # noqa: ANN001
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5


def test_every_role_s_journey_on_a_phone_in_chinese(journey_server: Any, browser: Browser) -> None:  # noqa: PLR0915
    server, url = journey_server, journey_server.url
    contexts: list[BrowserContext] = []

    def open_phone() -> Page:
        contexts.append(phone(browser))
        return contexts[-1].new_page()

    # ---- new member: a family registers, the husband's balance runs low -------------------------
    me = open_phone()
    me.goto(url + "/register")
    audit(me, "story-member-00-register")
    register(me, server, "13800000001", "彭静")
    audit(me, "story-member-01-dashboard-empty")
    me.goto(url + "/me/members/new")
    me.get_by_label("身份证号").fill(PENG_ID)
    expect(me.locator("#id-check")).to_contain_text("身份证号有效")
    audit(me, "story-member-01b-add-member")
    add_member(me, server, "彭静", PENG_ID)
    audit(me, "story-member-02-join")
    join(me, "comprehensive-accident")
    me.goto(url + "/me")
    me.get_by_role("link", name="加入计划").first.click()
    join(me, "driving-risk")
    add_member(me, server, "李强", HUSBAND_ID, "spouse")
    join(me, "comprehensive-accident")
    # The accident cover starts the day after joining: a countdown, not only a date.
    expect(me.locator("section", has=me.get_by_role("heading", name=re.compile("李强")))).to_contain_text("还剩 1 天")
    husband = me.locator("section", has=me.get_by_role("heading", name=re.compile("李强")))
    husband.get_by_role("link", name="提现").click()
    me.get_by_label("金额（元）").fill("4")
    me.get_by_label("您的银行账号").fill("6222020000000000777")
    audit(me, "story-member-03a-withdraw")
    me.get_by_role("button", name="提现").click()
    husband = me.locator("section", has=me.get_by_role("heading", name=re.compile("李强")))
    expect(husband).to_contain_text("5.00 元")
    expect(husband.get_by_role("status")).to_contain_text("余额不足提醒")
    expect(husband).to_contain_text("还够分摊 1 起事件")
    audit(me, "story-member-03-dashboard-low-balance")
    husband_id = int(re.search(r"/me/members/(\d+)", husband.get_by_role("link", name="李强").get_attribute("href"))[1])
    me.goto(f"{url}/me/members/{husband_id}")
    leave = me.get_by_role("link", name="退出该计划")
    expect(leave).to_be_visible()
    audit(me, "story-member-04-member-page")  # "退出" is a 44 px button of its own, not a link by the status
    leave.first.click()
    expect(me.get_by_role("button", name="确认退出")).to_be_visible()
    audit(me, "story-member-04b-leave-confirm")  # (not confirmed: the husband stays in the plan)
    me.goto(f"{url}/me/members/{husband_id}/top-up")
    audit(me, "story-member-04c-top-up")
    me.goto(url + "/me/claims/99999")
    expect(me.locator("h1")).to_have_text("页面不存在")
    audit(me, "story-member-04d-not-found")

    # ---- claimant: the form shows what the chosen aid needs; a refusal keeps nothing silently ----
    advance(server, 2)
    me.goto(url + "/me/claims/new")
    mine = me.locator("fieldset.question", has=me.locator("legend", has_text="彭静"))
    mine.get_by_label(re.compile("意外伤残.*综合意外")).check()
    expect(me.get_by_label("伤残等级（1–10，用逗号分隔）")).to_be_visible()
    expect(me.get_by_label("第三方损失（元）")).to_be_hidden()  # no driving fields for an accident plan
    expect(me.locator(".hint:visible", has_text="该保障项目需要的材料")).to_have_count(1)
    expect(me.locator(".hint:visible", has_text="该保障项目需要的材料")).to_contain_text("伤残鉴定")
    mine.get_by_label(re.compile("第三者责任补充")).check()
    expect(me.get_by_label("第三方损失（元）")).to_be_visible()
    expect(me.get_by_label("伤残等级（1–10，用逗号分隔）")).to_be_hidden()
    mine.get_by_label(re.compile("意外伤残.*综合意外")).check()
    expect(me.locator("input[type=radio][name=choice]").first).to_be_visible()
    assert in_viewport(me, mine.get_by_label(re.compile("意外伤残.*综合意外")))  # no select cut off at the edge
    incident = (server.platform.clock.now().date() - timedelta(days=1)).isoformat()
    me.get_by_label("出险日期").fill(incident)
    me.get_by_label("地点").fill("广西阳朔县")
    me.get_by_label("经过").fill("骑车时被货车撞倒，腿部骨折。")
    me.get_by_label("受益人", exact=True).fill("彭静")
    me.get_by_label("受益人银行账号").fill("12345")  # too short: refused
    me.get_by_label("伤残等级（1–10，用逗号分隔）").fill("2")
    me.get_by_label("材料 1：类型").select_option("medical")
    me.get_by_label("材料 1：文件").set_input_files({"name": "medical.png", "mimeType": "image/png", "buffer": PNG})
    me.get_by_label("材料 2：类型").select_option("police")
    me.get_by_label("材料 2：文件").set_input_files({"name": "police.pdf", "mimeType": "application/pdf", "buffer": PDF})
    audit(me, "story-claimant-01-claim-form")
    claims_before = count(server, select(func.count()).select_from(Claim))
    me.get_by_role("button", name="提交申请").click()
    alerts = me.get_by_role("alert")
    expect(alerts.first).to_contain_text("受益人银行账号须为12至19位数字")
    expect(me.get_by_text("您选择的文件没有保存")).to_be_visible()
    expect(alerts.nth(1)).to_contain_text("medical.png")
    expect(alerts.nth(1)).to_contain_text("police.pdf")
    assert count(server, select(func.count()).select_from(Claim)) == claims_before
    assert count(server, select(func.count()).select_from(Evidence)) == 0
    expect(me.get_by_label("经过")).to_have_value("骑车时被货车撞倒，腿部骨折。")  # what was typed is kept
    audit(me, "story-claimant-02-claim-refused-files-named")
    me.get_by_label("受益人银行账号").fill("6222020000000000011")
    me.get_by_label("材料 1：文件").set_input_files({"name": "medical.png", "mimeType": "image/png", "buffer": PNG})
    me.get_by_label("材料 2：文件").set_input_files({"name": "police.pdf", "mimeType": "application/pdf", "buffer": PDF})
    me.get_by_role("button", name="提交申请").click()
    expect(me.get_by_text("您的申请已收到")).to_be_visible()
    claim_url = me.url.split("?")[0]
    with server.platform.read_factory() as s:
        kinds = sorted(str(k) for k in s.scalars(select(Evidence.kind)))
    assert kinds == ["medical", "police"]  # a kind per file
    expect(me.locator("li", has_text="medical.png")).to_contain_text("病历")
    expect(me.locator("li", has_text="police.pdf")).to_contain_text("事故")
    audit(me, "story-claimant-03-claim-filed")

    # ---- investigator ------------------------------------------------------------------------------
    inv = open_phone()
    inv.goto(url + "/login")
    audit(inv, "story-investigator-00-login")
    log_in(inv, server, server.staff["investigator"])
    inv.goto(url + "/admin")
    expect(inv.locator("h1")).to_have_text("无权访问")
    audit(inv, "story-investigator-00b-forbidden")
    inv.goto(url + "/staff")
    expect(inv.locator("h1")).to_have_text("调查队列")
    audit(inv, "story-investigator-01-queue")
    inv.get_by_role("button", name="开始调查").first.click()
    expect(inv.locator("h1")).to_contain_text("调查报告")
    expect(inv.get_by_label("第三方损失（元）")).to_have_count(0)  # only the facts this aid needs
    inv.get_by_label("调查公司").fill("阳朔某第三方调查公司")
    inv.get_by_label("公开摘要（不含姓名和身份证号）").fill("交通事故属实，经伤残鉴定为二级伤残。")
    inv.get_by_label("伤残等级（1–10，用逗号分隔）").fill("2")
    audit(inv, "story-investigator-02-report")
    inv.get_by_role("button", name="提交报告").click()
    expect(inv.get_by_text("报告已提交")).to_be_visible()

    # ---- reviewer approves ---------------------------------------------------------------------------
    rev = open_phone()
    log_in(rev, server, server.staff["reviewer"])
    expect(rev.locator("h1")).to_have_text("审核工作台")
    audit(rev, "story-reviewer-01-workbench")
    rev.get_by_role("link", name="审核", exact=True).first.click()
    expect(rev.locator("ul.checks li")).to_have_count(5)
    audit(rev, "story-reviewer-02-rule-checks")
    rev.get_by_label(re.compile("按 90,000.00 元 通过")).check()
    rev.get_by_label("理由").fill("符合计划规则")
    rev.get_by_role("button", name="提交审核结论").click()
    expect(rev.get_by_text("审核结论已记录。")).to_be_visible()
    with server.platform.read_factory() as s:
        case_no = s.scalar(select(Case.case_no).where(Case.status == CaseStatus.IN_NOTICE))
    me.goto(claim_url)
    expect(me.get_by_text(f"事件 {case_no} 公示")).to_be_visible()
    audit(me, "story-claimant-04-in-notice")

    # ---- objector: offered only members in a plan, the form gone once objected -----------------------
    obj = open_phone()
    log_in(obj, server, "13800000003")
    add_member(obj, server, "林母", MOTHER_ID, "parent")  # in no plan: may not object
    obj.goto(f"{url}/cases/{case_no}")
    expect(obj.get_by_text("预计每人分摊")).to_be_visible()
    obj.get_by_role("link", name="对该事件提出异议").click()
    expect(obj.get_by_text("以林晓的名义提出异议。")).to_be_visible()
    expect(obj.get_by_text("林母")).to_have_count(0)
    obj.get_by_label("异议理由").fill("加入后第二天即出险，请核实受伤时间。")
    audit(obj, "story-objector-01-form")
    obj.get_by_role("button", name="提交异议").click()
    expect(obj.get_by_text("您的异议已记录")).to_be_visible()
    expect(obj.get_by_role("button", name="提交异议")).to_have_count(0)
    expect(obj.get_by_label("异议理由")).to_have_count(0)
    audit(obj, "story-objector-02-recorded")

    # ---- the approving reviewer is not offered the resolve form --------------------------------------
    rev.goto(url + "/staff/objections")
    expect(rev.get_by_text("您审批或调查过该事件，因此须由另一位审核员处理该异议。")).to_be_visible()
    expect(rev.get_by_role("button", name="提交处理")).to_have_count(0)
    audit(rev, "story-reviewer-03-objection-not-offered")

    # ---- admin: past the notice, the case is held by the objection — counted once ----------------------
    advance(server, 8)
    adm = open_phone()
    log_in(adm, server, server.staff["admin"])
    expect(adm.locator("h1")).to_have_text("管理")
    expect(adm.locator("#board-held")).to_have_text("1")
    expect(adm.locator("#board-due")).to_have_text("0")
    expect(adm.locator("#board-running")).to_have_text("0")
    audit(adm, "story-admin-01-held-by-objection")

    # ---- the second reviewer dismisses it ----------------------------------------------------------------
    rev2 = open_phone()
    log_in(rev2, server, server.staff["reviewer2"])
    rev2.goto(url + "/staff/objections")
    rev2.get_by_label("处理意见（将公开）").fill("调查报告与医院记录确认受伤时间在生效日之后。")
    rev2.get_by_label("驳回：事件继续").check()
    audit(rev2, "story-reviewer2-01-resolve")
    rev2.get_by_role("button", name="提交处理").click()
    expect(rev2.get_by_text("已驳回").first).to_be_visible()

    adm.goto(url + "/admin")
    expect(adm.locator("#board-due")).to_have_text("1")
    expect(adm.locator("#board-held")).to_have_text("0")
    expect(adm.locator("#board-running")).to_have_text("0")
    adm.get_by_role("button", name="立即执行分摊和付款").click()
    expect(adm.locator("#run-progress")).to_contain_text("已完成")
    expect(adm.locator("#run-progress")).to_contain_text("一致")
    audit(adm, "story-admin-02-run-done")

    # ---- the claimant learns the outcome: paid, when, the bank's reference, a PDF receipt ---------------
    with server.platform.read_factory() as s:
        case = s.scalar(select(Case).where(Case.case_no == case_no))
        assert case.status == CaseStatus.PAID
        collected = case.collected_fen
    paid = f"{collected // 100:,}.{collected % 100:02d} 元"
    me.goto(claim_url)
    expect(me.locator(".verified")).to_contain_text(paid)
    expect(me.locator(".verified")).to_contain_text("尾号 0011")
    expect(me.get_by_text("银行流水号").first).to_be_visible()
    expect(me.locator("ol.timeline")).to_contain_text("已驳回")  # the objection and its outcome
    expect(me.locator("ol.timeline")).to_contain_text("托管银行已向受益人支付")
    audit(me, "story-claimant-05-paid")
    with me.expect_download() as info:
        me.get_by_role("link", name="下载支付凭证（PDF）").click()
    pdf_bytes = Path(info.value.path()).read_bytes()
    assert pdf_bytes.startswith(b"%PDF")
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(pdf_bytes)).pages[0].extract_text()
    reference = me.locator(".verified code").inner_text()
    for expected in ("互助金支付凭证", case_no, paid, "彭静", "尾号 0011", reference, "零利润"):
        assert expected in text, (expected, text)
    # Another account cannot fetch it.
    assert obj.request.get(claim_url + "/receipt.pdf").status == 404

    # ---- the objector is told the outcome on their page ------------------------------------------------
    obj.goto(url + "/me")
    objections = obj.locator("section", has=obj.get_by_role("link", name=case_no))
    expect(objections).to_contain_text("已驳回")
    expect(objections).to_contain_text("调查报告与医院记录确认受伤时间在生效日之后。")
    audit(obj, "story-objector-03-outcome")

    # ---- the husband's deduction and its proof, in plain words ----------------------------------------
    me.goto(f"{url}/me/members/{husband_id}")
    me.get_by_role("link", name="核对我的分摊").first.click()
    expect(me.locator(".verified")).to_contain_text("已验证")
    expect(me.locator("details.fold")).not_to_have_attribute("open", "")
    expect(me.locator("code.hash").first).to_be_hidden()  # the hex is folded away
    audit(me, "story-member-05-proof-verified")
    me.goto(f"{url}/me/members/{husband_id}")
    audit(me, "story-member-06-deductions")

    # ---- the auditor: a real, read-only desk ---------------------------------------------------------------
    aud = open_phone()
    log_in(aud, server, server.staff["auditor"])
    expect(aud.locator("h1")).to_have_text("审计工作台")
    expect(aud.get_by_text("差额（必须为零）")).to_be_visible()
    expect(aud.locator(".stats li", has_text="差额（必须为零）")).to_contain_text("0.00 元")
    aud.get_by_role("button", name="检查所有账目不变量").click()
    expect(aud.get_by_text("所有不变量均成立")).to_be_visible()
    expect(aud.get_by_text("一致").first).to_be_visible()
    audit(aud, "story-auditor-01-desk")

    # ---- complaints: the member writes, the admin answers, the member reads and closes ---------------------
    me.goto(url + "/me/complaints")
    me.get_by_label("涉及事项").select_option("money")
    me.get_by_label("标题").fill("提现到账时间")
    me.get_by_label("经过").fill("提现后多久到账？页面没有写明。")
    me.get_by_role("button", name="提交").click()
    expect(me.get_by_text(re.compile(r"已收到投诉 HZT\d+"))).to_be_visible()
    audit(me, "story-member-07-complaint-sent")
    adm.goto(url + "/staff/complaints")
    adm.get_by_label("答复（会员可见）").fill("托管银行通常在一个工作日内到账。")
    audit(adm, "story-admin-03-complaint")
    adm.get_by_role("button", name="发送答复").click()
    expect(adm.get_by_text("托管银行通常在一个工作日内到账。")).to_be_visible()
    aud.goto(url + "/staff/complaints")
    expect(aud.get_by_text("只读：投诉由管理员答复。")).to_be_visible()
    expect(aud.get_by_role("button", name="发送答复")).to_have_count(0)
    me.goto(url + "/me/complaints")
    expect(me.get_by_text("托管银行通常在一个工作日内到账。")).to_be_visible()
    me.get_by_role("button", name="关闭：问题已解决").click()
    expect(me.get_by_text("已关闭")).to_be_visible()

    # ---- a second case in notice, for the public's notice page (set up directly) ----------------------------
    second = _second_case_in_notice(server)

    # ---- the public ---------------------------------------------------------------------------------------------
    pub = open_phone()
    pub.goto(url + "/")
    join_link, login_link = pub.get_by_role("link", name="加入", exact=True), pub.get_by_role("link", name="登录")
    assert in_viewport(pub, join_link) and in_viewport(pub, login_link)
    plans_link = pub.locator("#main-nav").get_by_role("link", name="互助计划")
    expect(plans_link).to_be_hidden()  # folded behind the menu on a phone
    menu = pub.get_by_role("button", name="菜单")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(plans_link).to_be_visible()
    assert in_viewport(pub, plans_link) and in_viewport(pub, pub.locator("#main-nav").get_by_role("link", name="帮助"))
    audit(pub, "story-public-01-home-menu-open")
    plans_link.click()
    audit(pub, "story-public-02-plans")
    pub.goto(url + "/plans/quark-no1")
    expect(pub.get_by_text("恶性肿瘤").first).to_be_visible()
    expect(pub.get_by_role("heading", name="免责条款（不保障的情形）")).to_be_visible()
    expect(pub.get_by_role("heading", name="健康告知")).to_be_visible()
    expect(pub.get_by_text("申请所需材料").first).to_be_visible()
    audit(pub, "story-public-03-plan-rules")
    pub.goto(f"{url}/cases/{second}")
    facts = pub.locator("dl.facts").first
    for words in ("加入计划日期", "保障生效日期", "出险日期", "地点", "广西南宁市"):
        expect(facts).to_contain_text(words)
    expect(pub.get_by_text("调查机构")).to_be_visible()
    expect(pub.get_by_text("南宁某调查公司")).to_be_visible()
    expect(pub.locator("ul.docs img")).to_have_count(2)
    for img in pub.locator("ul.docs img").all():
        assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    expect(pub.locator("ul.docs")).to_contain_text("死亡证明")
    expect(pub.get_by_text("预计每人分摊")).to_be_visible()
    audit(pub, "story-public-04-case-in-notice")
    pub.goto(f"{url}/cases/{case_no}")
    audit(pub, "story-public-05-case-paid")
    pub.goto(url + "/runs")
    audit(pub, "story-public-06-runs")
    pub.locator("main").get_by_role("link", name=re.compile(r"^R\d+")).first.click()
    each = pub.locator(".share-each").first
    expect(each).to_contain_text("每人分摊")
    assert in_viewport(pub, each.locator(".amount"))
    expect(pub.locator("main")).to_contain_text("起点会员号")
    expect(pub.locator("main")).not_to_contain_text("Leftover fen go")
    assert overflow(pub) == 0
    audit(pub, "story-public-07-run-as-cards")
    pub.goto(url + "/cases")
    audit(pub, "story-public-08-cases")
    pub.goto(url + "/report")
    audit(pub, "story-public-09-report")
    pub.goto(url + "/help")
    pub.get_by_text("什么时候扣钱？").click()
    expect(pub.get_by_text("只有在事件核实并公示7天")).to_be_visible()
    audit(pub, "story-public-10-help")
    pub.goto(url + "/open-data")
    audit(pub, "story-public-11-open-data")
    body = pub.request.get(url + "/open-data/cases.csv").body()
    assert body.startswith("\ufeff".encode()) and "彭*".encode() in body
    # The language switch keeps the address's query string.
    pub.goto(url + "/login?next=/me/complaints")
    pub.get_by_role("link", name="English").click()
    expect(pub).to_have_url(re.compile(r"/login\?next=%2Fme%2Fcomplaints&lang=en$"))
    expect(pub.locator("h1")).to_have_text("Log in")
    audit(pub, "story-public-12-login-en")

    # ---- a member's pages in English -----------------------------------------------------------------------------
    me.goto(url + "/me?lang=en")
    expect(me.get_by_role("heading", name="Coming deductions").first).to_be_visible()
    audit(me, "story-member-08-dashboard-en")
    me.goto(claim_url)
    expect(me.get_by_role("link", name="Download the receipt (PDF)")).to_be_visible()
    audit(me, "story-claimant-06-paid-en")
    me.goto(url + "/me?lang=zh")

    # ---- the key pages at 1280 px ------------------------------------------------------------------------------
    wide = desk(browser)
    contexts.append(wide)
    page = wide.new_page()
    for path, name in ((f"/runs/{_run_no(server)}", "run"), (f"/cases/{second}", "case-in-notice"), ("/plans/quark-no1", "plan"),
                       ("/help", "help"), ("/report", "report")):
        page.goto(url + path)
        audit(page, f"story-desktop-{name}")
    shortfall = page.goto(f"{url}/runs/{_run_no(server)}") and page.locator(".run-case dd").nth(6)
    assert in_viewport(page, shortfall)
    log_in(page, server, "13800000001")
    page.goto(claim_url)
    audit(page, "story-desktop-claim-paid")
    page.goto(url + "/me")
    audit(page, "story-desktop-dashboard")
    page.goto(url + "/me/claims/new")
    audit(page, "story-desktop-claim-form")
    admin_desk = desk(browser)
    contexts.append(admin_desk)
    page = admin_desk.new_page()
    log_in(page, server, server.staff["admin"])
    page.goto(url + "/admin")
    audit(page, "story-desktop-admin")
    page.goto(url + "/staff/complaints")
    audit(page, "story-desktop-complaints")
    for context in contexts:
        context.close()


def _run_no(server: Any) -> str:
    from huzhu.apportionment.models import ApportionmentRun

    with server.platform.read_factory() as s:
        return s.scalar(select(ApportionmentRun.run_no).order_by(ApportionmentRun.id.desc()).limit(1))


def _second_case_in_notice(server: Any) -> str:
    """A pool member's accidental death, investigated and approved through the services: a case in
    notice with two documents, for the public's notice page."""
    from huzhu.accounts import service as accounts
    from huzhu.accounts.models import Account
    from huzhu.casework import service as casework
    from huzhu.claims import service as claims
    from huzhu.claims.evidence import add_evidence
    from huzhu.members import service as members
    from huzhu.members.models import Enrollment

    platform = server.platform
    now = platform.clock.now()
    with platform.session() as s:
        family = accounts.register_account(s, login="13800000088", password=PASSWORD, display_name="黄家属", now=now)
        member = members.add_member(s, account_id=family.id, name="黄桂英", now=now,
                                    id_number=make_resident_id("450102", date(1970, 7, 7), 31, "F"))
        members.join_plan(s, platform.custodian, plans=platform.plans, member=member,
                          plan_code="comprehensive-accident", now=now - timedelta(days=0), idempotency_key="second-case")
        enrollment = s.scalar(select(Enrollment).where(Enrollment.member_id == member.id))
        enrollment_day = enrollment.joined_on
        member_id, family_id = member.id, family.id
    platform.clock.advance(timedelta(days=3))
    now = platform.clock.now()
    with platform.session() as s:
        family = s.get(Account, family_id)
        claim = claims.file_claim(s, plans=platform.plans, actor=family, member_id=member_id,
                                  plan_code="comprehensive-accident", benefit_code="accidental_death",
                                  incident_date=enrollment_day + timedelta(days=2), now=now, incident_place="广西南宁市",
                                  beneficiary_name="黄家属", beneficiary_account="6222020000000000099")
        for kind, name, data in (("death_certificate", "death.pdf", PDF), ("police", "police.png", PNG)):
            staged = platform.evidence.stage_bytes(data, name)
            add_evidence(s, platform.evidence, actor=family, claim=claim, staged=staged, kind=kind, now=now)
        investigator = s.scalar(select(Account).where(Account.email == server.staff["investigator"]))
        reviewer = s.scalar(select(Account).where(Account.email == server.staff["reviewer"]))
        claims.start_investigation(s, actor=investigator, claim_id=claim.id, now=now)
        claims.submit_report(s, actor=investigator, claim_id=claim.id, company="南宁某调查公司", summary="意外身故属实。",
                             confirmed_incident_date=claim.incident_date, now=now)
        _claim, case = casework.decide(s, plans=platform.plans, actor=reviewer, claim_id=claim.id, approve=True,
                                       reason="", now=now)
        assert case is not None
        return case.case_no
