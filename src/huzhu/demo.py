"""``huzhu demo``: a realistic pool, then the source article replayed through every step.

彭静 (25, Guangxi) joined on 2015-03-02; traffic accident 2016-01-27; died 2016-02-09 —
accidental death, 100,000.00. 周四喜 (57) joined the comprehensive accident plan on 2016-02-06,
in force 2016-02-07; injured 2016-02-09 — disability grade 2, 90,000.00. Both go through a
third-party investigation, rule-checked review, 7-day public notice (with one objection,
dismissed by a second reviewer), one apportionment run and payout through the custodian.
"""

from __future__ import annotations

import csv
import random
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from time import perf_counter

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

from huzhu.accounts import service as accounts
from huzhu.accounts.models import Role
from huzhu.app import build_platform
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.casework import service as casework
from huzhu.claims import service as claims
from huzhu.claims.evidence import add_evidence
from huzhu.claims.models import EvidenceKind
from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.config import Settings
from huzhu.db import SQL_SUM_FEN
from huzhu.errors import Conflict, ErrorCode
from huzhu.identity import make_resident_id, province_for
from huzhu.jobs import run_jobs
from huzhu.ledger.invariants import check_ledger
from huzhu.members import service as members
from huzhu.members.importer import import_members
from huzhu.members.models import Enrollment, EnrollmentStatus, Member, Relationship
from huzhu.notices import service as notices
from huzhu.notices.models import Case
from huzhu.plans.rules import age_on
from huzhu.platform import Platform
from huzhu.sandbox.clock import SandboxDbClock
from huzhu.web.i18n import fmt_date, fmt_datetime, money
from huzhu.web.words import label, word

PASSWORD = "demo-pass-2016"
ACCIDENT = "comprehensive-accident"
QUARK_NO1 = "quark-no1"


class DemoError(ErrorCode):
    NOT_EMPTY = ("demo.not_empty", "the database already has members; run the demo with --reset (it starts a new "
                 "database) or point HUZHU_DATABASE_URL at an empty one")


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ)


def write_pool_csv(path: Path, *, count: int, seed: int = 2016) -> None:
    """A synthetic existing pool: valid ID numbers, joined 2014 – Feb 2015, mostly 9.00 balances."""
    rng = random.Random(seed)
    regions = ["110101", "310104", "440106", "450321", "510104", "330106", "420102", "370102", "610113", "210102"]
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
    used: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "id_number", "plans", "joined_on", "balance"])
        written = 0
        while written < count:
            birth = date(1955, 1, 1) + timedelta(days=rng.randrange(0, 365 * 42))
            number = make_resident_id(rng.choice(regions), birth, rng.randrange(100), rng.choice(("F", "M")))
            if number in used:
                continue
            used.add(number)
            joined = date(2014, 1, 1) + timedelta(days=rng.randrange(0, 420))
            age = age_on(birth, joined)
            plans = [ACCIDENT, QUARK_NO1] if 18 <= age <= 50 and rng.random() < 0.5 else [ACCIDENT]
            balance = rng.choices(["9.00", "12.00", "6.00", "3.50", "1.20"], weights=[70, 10, 12, 6, 2])[0]
            writer.writerow([rng.choice(surnames) + rng.choice(given) + rng.choice(given), number,
                             ";".join(plans), joined.isoformat(), balance])
            written += 1


def sandbox_document(title: str) -> bytes:
    """A one-page PDF standing in for a scanned document in the sandbox (marked as such on the page)."""
    text = f"(SANDBOX DEMO DOCUMENT) Tj 0 -24 Td ({title}) Tj".encode("ascii")
    stream = b"BT /F1 14 Tf 72 720 Td " + text + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


@dataclass
class Story:
    peng_case: Case
    zhou_case: Case
    run_no: str


def replay_article(platform: Platform, clock: FixedClock, *, log=print, run_job: bool = True) -> Story:  # noqa: ANN001, C901
    """``run_job=False``: stop when the notice has ended, the job not yet run (the crash tests' start)."""
    plans, custodian = platform.plans, platform.custodian

    def step(message: str) -> None:
        log(f"[{clock.now().astimezone(CHINA_TZ):%Y-%m-%d %H:%M}] {message}")

    with platform.session() as s:
        now = clock.now()
        investigator = accounts.register_account(s, login="investigator@huzhu.example", password=PASSWORD,
                                                display_name="第三方调查员", role=Role.INVESTIGATOR, now=now)
        reviewer = accounts.register_account(s, login="reviewer@huzhu.example", password=PASSWORD,
                                            display_name="审核员甲", role=Role.REVIEWER, now=now)
        reviewer2 = accounts.register_account(s, login="reviewer2@huzhu.example", password=PASSWORD,
                                             display_name="审核员乙", role=Role.REVIEWER, now=now)
        accounts.register_account(s, login="admin@huzhu.example", password=PASSWORD, display_name="管理员",
                                 role=Role.ADMIN, now=now)
        accounts.register_account(s, login="auditor@huzhu.example", password=PASSWORD, display_name="审计员",
                                 role=Role.AUDITOR, now=now)
        ids = (investigator.id, reviewer.id, reviewer2.id)

    clock.set(at("2015-03-02"))
    with platform.session() as s:
        family = accounts.register_account(s, login="13800000001", password=PASSWORD, display_name="彭静家属",
                                          now=clock.now())
        peng = members.add_member(s, account_id=family.id, name="彭静", now=clock.now(), relationship=Relationship.SELF,
                                  id_number=make_resident_id("450321", date(1990, 6, 15), 12, "F"))
        for plan in (QUARK_NO1, ACCIDENT):
            answers = {q.code: False for q in plans[plan].eligibility.health_questions}
            members.join_plan(s, custodian, plans=plans, member=peng, plan_code=plan, now=clock.now(),
                              idempotency_key=f"demo-join-peng-{plan}", health_answers=answers or None)
        family_id, peng_id = family.id, peng.id
    step("彭静（25岁，广西阳朔）加入夸克1号和综合意外两个计划，各存入 9.00 元到托管银行（joins two plans, 9.00 each into custody）")

    clock.set(at("2016-02-06"))
    with platform.session() as s:
        zhou_account = accounts.register_account(s, login="13800000002", password=PASSWORD, display_name="周四喜",
                                                now=clock.now())
        zhou = members.add_member(s, account_id=zhou_account.id, name="周四喜", now=clock.now(),
                                  id_number=make_resident_id("450821", date(1958, 8, 20), 31, "M"))
        enrollment = members.join_plan(s, custodian, plans=plans, member=zhou, plan_code=ACCIDENT, now=clock.now(),
                                       idempotency_key="demo-join-zhou")
        zhou_account_id, zhou_id = zhou_account.id, zhou.id
        step(f"周四喜（57岁）于 {cn_day(enrollment.joined_on)} 加入综合意外计划，意外保障自 "
             f"{cn_day(enrollment.joined_on + timedelta(days=1))} 起生效（joins; cover in force the next day）")

    clock.set(at("2016-02-10"))
    with platform.session() as s:
        family = accounts.account_or_raise(s, family_id)
        peng_claim = claims.file_claim(
            s, plans=plans, actor=family, member_id=peng_id, plan_code=ACCIDENT, benefit_code="accidental_death",
            incident_date=date(2016, 1, 27), incident_place="广西阳朔县", now=clock.now(),
            description="2016-01-27 交通事故，经阳朔县人民医院抢救无效，于 2016-02-09 身故。",
            beneficiary_name="彭静家属", beneficiary_account="6222020000000000011")
        zhou_account = accounts.account_or_raise(s, zhou_account_id)
        zhou_claim = claims.file_claim(
            s, plans=plans, actor=zhou_account, member_id=zhou_id, plan_code=ACCIDENT,
            benefit_code="accidental_disability", incident_date=date(2016, 2, 9), incident_place="甘蔗窖旁",
            description="在甘蔗窖旁作业，不慎碰撞树桩受伤昏迷。", now=clock.now(),
            beneficiary_name="周四喜", beneficiary_account="6222020000000000022")
        claim_ids = (peng_claim.id, zhou_claim.id)
        for actor, claim, kind, title in (
            (family, peng_claim, EvidenceKind.DEATH_CERTIFICATE, "Death certificate, Yangshuo County People's Hospital"),
            (family, peng_claim, EvidenceKind.POLICE, "Traffic accident determination, Yangshuo traffic police"),
            (zhou_account, zhou_claim, EvidenceKind.MEDICAL, "Medical record: injury on 2016-02-09"),
        ):
            staged = platform.evidence.stage_bytes(sandbox_document(title), f"{kind.value}.pdf")
            add_evidence(s, platform.evidence, actor=actor, claim=claim, staged=staged, kind=kind, now=clock.now())
    step("两份互助申请连同证明材料提交（both claims filed; documents are seen only by staff and the family）")

    clock.set(at("2016-02-12"))
    with platform.session() as s:
        inv = accounts.account_or_raise(s, ids[0])
        for claim_id in claim_ids:
            claims.start_investigation(s, actor=inv, claim_id=claim_id, now=clock.now())
    clock.set(at("2016-02-15"))
    with platform.session() as s:
        inv = accounts.account_or_raise(s, ids[0])
        claims.submit_report(s, actor=inv, claim_id=claim_ids[0], company="某第三方调查公司", now=clock.now(),
                             summary="交通事故属实，医院死亡证明与交警事故认定书一致，属意外身故。",
                             confirmed_incident_date=date(2016, 1, 27))
        claims.submit_report(s, actor=inv, claim_id=claim_ids[1], company="某第三方调查公司", now=clock.now(),
                             summary="作业时碰撞树桩受伤属实，经伤残鉴定为二级伤残。",
                             confirmed_incident_date=date(2016, 2, 9), facts={"disability_grades": [2]})
    step("第三方调查公司提交调查报告（third-party investigation reports submitted）")

    clock.set(at("2016-02-16"))
    with platform.session() as s:
        rev = accounts.account_or_raise(s, ids[1])
        for claim_id in claim_ids:
            claim = claims.claim_or_raise(s, claim_id)
            evaluation = claims.evaluate(s, plans=plans, claim=claim)
            log(f"      审核 {claim.claim_no} 的每一条计划规则（every plan rule checked）：")
            for check in evaluation.checks:
                log(f"      {'✓' if check.passed else '✗'} {label('zh_CN', check.code)}：{word('zh_CN', check.message)}")
            casework.decide(s, plans=plans, actor=rev, claim_id=claim_id, approve=True, reason="符合计划规则", now=clock.now())
    with platform.factory() as s:
        cases = {c.claim_id: c for c in s.scalars(select(Case).where(Case.claim_id.in_(claim_ids)))}
        peng_case, zhou_case = cases[claim_ids[0]], cases[claim_ids[1]]
    step(f"审核通过（approved）：{peng_case.case_no} {yuan(peng_case.amount_fen)}，"
         f"{zhou_case.case_no} {yuan(zhou_case.amount_fen)}；公示至 {cn_time(peng_case.notice_ends_at)}"
         "（public notice, 7 days）")

    clock.set(at("2016-02-18"))
    with platform.session() as s:
        objector = accounts.register_account(s, login="13800000003", password=PASSWORD, display_name="热心会员",
                                            now=clock.now())
        member = members.add_member(s, account_id=objector.id, name="林晓", now=clock.now(),
                                    id_number=make_resident_id("440106", date(1985, 3, 3), 7, "F"))
        clock.set(at("2016-02-18", 11))
        members.join_plan(s, custodian, plans=plans, member=member, plan_code=ACCIDENT, now=clock.now(),
                          idempotency_key="demo-join-objector")
        objection = notices.file_objection(s, actor=objector, case_id=zhou_case.id, member_id=member.id,
                                           reason="加入后第三天即出险，请核实受伤时间。", now=clock.now())
        objection_id = objection.id
    step(f"一位会员对 {zhou_case.case_no} 提出异议：加入仅三天即出险（a member objects: joined three days before the accident）")
    clock.set(at("2016-02-19"))
    with platform.session() as s:
        rev2 = accounts.account_or_raise(s, ids[2])
        casework.resolve_objection(s, actor=rev2, objection_id=objection_id, upheld=False, now=clock.now(),
                                  note="调查报告与医院记录确认受伤时间为 2016-02-09，在生效日 2016-02-07 之后。")
    step("另一位未参与审批的审核员驳回异议，事件继续（a second reviewer dismisses the objection）")

    clock.set(at("2016-02-23", 11))
    if not run_job:
        return Story(peng_case=peng_case, zhou_case=zhou_case, run_no="")
    started = perf_counter()
    report = run_jobs(platform.factory, plans=plans, custodian=custodian, now=clock.now())
    step(f"公示期满；分摊批次 {report.run_no} 分摊了 {'、'.join(report.cases_shared)}，托管银行已支付 "
         f"{'、'.join(report.cases_paid)}（用时 {perf_counter() - started:.2f} 秒）；托管银行对账"
         f"{'一致（reconciliation matched）' if report.reconciliation_matched else '不一致（MISMATCH）'}")
    with platform.factory() as s:
        peng_after, zhou_after = s.get(Case, peng_case.id), s.get(Case, zhou_case.id)
        assert peng_after is not None and zhou_after is not None
        peng_case, zhou_case = peng_after, zhou_after
    return Story(peng_case=peng_case, zhou_case=zhou_case, run_no=report.run_no or "")


def yuan(fen: int) -> str:
    return f"{money(fen, 'zh_CN', unit=False)} 元"


def cn_day(day: date) -> str:
    return fmt_date(day, "zh_CN")


def cn_time(moment: datetime) -> str:
    return fmt_datetime(moment, "zh_CN")


def print_public_view(platform: Platform, story: Story, console: Console) -> None:
    """What the public sees, in Chinese with English in parentheses where it helps: the cases, the run
    (with what each column means) and what each member paid; the numbers are the run page's."""
    plans = platform.plans
    with platform.factory() as s:
        table = Table(title="公示案例（public cases, anonymised）")
        for column in ("事件 case", "姓名 name", "性别 sex", "年龄 age", "省份 province", "保障项目 aid",
                       "核定金额 amount", "筹集 collected", "缺口 shortfall", "状态 status"):
            table.add_column(column)
        for case in s.scalars(select(Case).order_by(Case.id)):
            plan = plans.get(case.plan_code)
            benefit = plan.benefit(case.benefit_code) if plan else None
            aid = f"{benefit.name_zh}（{benefit.name_en}）" if benefit else case.benefit_code
            table.add_row(case.case_no, case.masked_name, {"F": "女", "M": "男"}[case.gender], str(case.age),
                          province_for(case.province_code).name_zh, aid, yuan(case.amount_fen),
                          yuan(case.collected_fen or 0), yuan(case.shortfall_fen or 0),
                          f"{label('zh_CN', case.status)}（{case.status.value}）")
        console.print(table)
        run = s.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == story.run_no))
        runs = Table(title=f"分摊批次 {story.run_no}（apportionment run）")
        for column in ("事件 case", "参与分摊 sharing", "实际付款 paying", "每人分摊 share each",
                       "多付1分 +1 fen", "余额不足 short of balance", "筹集 collected", "缺口 shortfall"):
            runs.add_column(column)
        for rc, case_no in s.execute(
            select(RunCase, Case.case_no).join(Case, Case.id == RunCase.case_id)
            .where(RunCase.run_id == (run.id if run else -1)).order_by(RunCase.id)
        ):
            runs.add_row(case_no, f"{rc.sharing_members:,}", f"{rc.paying_members:,}", yuan(rc.level_fen),
                         f"{rc.leftover_fen:,}", f"{rc.members_limited_by_balance:,}", yuan(rc.collected_fen),
                         yuan(rc.shortfall_fen))
        console.print(runs)
        console.print(
            "  每人分摊：每位参与分摊的会员付同样的金额，每起事件最多 3.00 元（equal share, at most the cap）。\n"
            "  多付1分：金额不能按分整除时，剩下的几分钱按公布的规则由这么多位会员各多付 1 分——按会员在本事件中\n"
            "  的假名（公开在运行文件里）从由事件编号算出的起点依次轮转，任何人都能复算（leftover fen, one each,\n"
            "  by the published rule 2: ordered by pseudonym, recomputable by anyone）。\n"
            "  余额不足：这么多位会员的余额低于人均份额，付出了全部余额，差额由其他会员在上限内分担\n"
            "  （members whose balance was below the share paid what they had）。\n"
            "  缺口：会员余额合计仍不足以筹满时，按筹集到的金额支付，并公布缺口（shortfall, published）。"
        )
        shares = Table(title="每位会员在本批次的分摊（what each member paid in this run）")
        for column in ("会员合计付款 total paid by a member", "会员数 members"):
            shares.add_column(column)
        for amount, count in s.execute(text(
            f"SELECT per_member, COUNT(*) FROM (SELECT e.account_id, {SQL_SUM_FEN.format('e.amount')} AS per_member "
            "FROM ledger_entries e "
            "JOIN ledger_transfers t ON t.id = e.transfer_id WHERE t.kind = 'share' AND e.direction = 1 "
            "GROUP BY e.account_id) x GROUP BY per_member ORDER BY per_member DESC")):
            shares.add_row(yuan(amount), f"{count:,}")
        console.print(shares)
        suspended = s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.status == EnrollmentStatus.SUSPENDED)) or 0
        by_run = run.suspended_enrollments if run else 0
        console.print(
            f"本批次分摊后余额低于 3.00 元而暂停保障的加入记录（suspended by this run, as on the run page）："
            f"{by_run:,}；分摊前已暂停的（already suspended before the run）：{suspended - by_run:,}；"
            f"现共暂停（suspended now）：{suspended:,}。充值后保障恢复（top up to resume cover）。")
        violations = check_ledger(s)
        console.print("账目检查（ledger check）：" + ("[green]所有不变量均成立（all invariants hold）[/green]"
                                                  if not violations else
                                                  "[red]" + "; ".join(v.invariant for v in violations) + "[/red]"))


def run_demo(settings: Settings, *, members: int, console: Console) -> Story:
    clock = FixedClock(at("2015-03-01"))
    if settings.leftover_rule_v2_from is None:
        # The demo's runs use leftover rule 2 (every fen provable) from the story's first day.
        settings = settings.model_copy(update={"leftover_rule_v2_from": clock.now().date()})
    platform = build_platform(settings, clock=clock)
    with platform.factory() as session:
        has_members = session.scalar(select(Member.id).limit(1)) is not None
    if has_members:
        raise Conflict(DemoError.NOT_EMPTY)
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.csv"
        started = perf_counter()
        write_pool_csv(pool, count=members)
        with platform.session() as session:
            result = import_members(session, path=pool, plans=platform.plans, now=clock.now())
        console.print(f"导入现有会员 {result.members:,} 人（imported a pool of members），加入记录 "
                      f"{result.enrollments:,} 条，余额合计 {yuan(result.total_balance_fen)}，"
                      f"用时 {perf_counter() - started:.1f} 秒")
    story = replay_article(platform, clock, log=console.print)
    # Leave the sandbox clock where the story ended, so `huzhu serve` continues from there.
    SandboxDbClock(platform.factory).set(clock.now())
    print_public_view(platform, story, console)
    with platform.factory() as s:
        count = s.scalar(select(func.count()).select_from(RunCase))
    console.print(f"已分摊 {count} 起事件（cases shared）；开放数据（open data）：`huzhu export cases --format json`")
    console.print(
        f"下一步（next）：`make serve`（或 `huzhu serve`），打开 http://127.0.0.1:8000 ——密码均为 {PASSWORD!r}："
        "13800000001（彭静家属 Peng Jing's family）、13800000002（周四喜）、13800000003（提出异议的会员 the objector）、"
        "investigator@huzhu.example（调查员）、reviewer@huzhu.example 和 reviewer2@huzhu.example（审核员）、"
        "admin@huzhu.example（管理员）、auditor@huzhu.example（审计员）。沙盒时钟停在故事结束时，管理员可以调整"
        "（the sandbox clock stays at the story's end）。"
    )
    return story
