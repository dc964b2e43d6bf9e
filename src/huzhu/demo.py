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
from huzhu.money import format_yuan
from huzhu.notices import service as notices
from huzhu.notices.models import Case
from huzhu.plans.rules import age_on
from huzhu.platform import Platform
from huzhu.sandbox.clock import SandboxDbClock

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
            number = make_resident_id(rng.choice(regions), birth, rng.randrange(100), rng.choice("FM"))
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


def replay_article(platform: Platform, clock: FixedClock, *, log=print) -> Story:  # noqa: ANN001, C901
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
    step("彭静 (25, 广西阳朔) joins 夸克1号 and 综合意外, paying 9.00 into custody for each")

    clock.set(at("2016-02-06"))
    with platform.session() as s:
        zhou_account = accounts.register_account(s, login="13800000002", password=PASSWORD, display_name="周四喜",
                                                now=clock.now())
        zhou = members.add_member(s, account_id=zhou_account.id, name="周四喜", now=clock.now(),
                                  id_number=make_resident_id("450821", date(1958, 8, 20), 31, "M"))
        enrollment = members.join_plan(s, custodian, plans=plans, member=zhou, plan_code=ACCIDENT, now=clock.now(),
                                       idempotency_key="demo-join-zhou")
        zhou_account_id, zhou_id = zhou_account.id, zhou.id
        step(f"周四喜 (57) joins 综合意外 on {enrollment.joined_on}; accident cover in force from "
             f"{enrollment.joined_on + timedelta(days=1)}")

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
    step("both claims filed, with their documents (kept content-addressed, readable only by staff and the family)")

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
    step("third-party investigation reports submitted")

    clock.set(at("2016-02-16"))
    with platform.session() as s:
        rev = accounts.account_or_raise(s, ids[1])
        for claim_id in claim_ids:
            evaluation = claims.evaluate(s, plans=plans, claim=claims.claim_or_raise(s, claim_id))
            for check in evaluation.checks:
                log(f"      {'✓' if check.passed else '✗'} {check.code}: {check.detail}")
            casework.decide(s, plans=plans, actor=rev, claim_id=claim_id, approve=True, reason="符合计划规则", now=clock.now())
    with platform.factory() as s:
        cases = {c.claim_id: c for c in s.scalars(select(Case).where(Case.claim_id.in_(claim_ids)))}
        peng_case, zhou_case = cases[claim_ids[0]], cases[claim_ids[1]]
    step(f"approved: {peng_case.case_no} {format_yuan(peng_case.amount_fen)}, "
         f"{zhou_case.case_no} {format_yuan(zhou_case.amount_fen)}; public notice until "
         f"{peng_case.notice_ends_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}")

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
    step(f"a member objects to {zhou_case.case_no}: joined only three days before the accident")
    clock.set(at("2016-02-19"))
    with platform.session() as s:
        rev2 = accounts.account_or_raise(s, ids[2])
        casework.resolve_objection(s, actor=rev2, objection_id=objection_id, upheld=False, now=clock.now(),
                                  note="调查报告与医院记录确认受伤时间为 2016-02-09，在生效日 2016-02-07 之后。")
    step("a second reviewer dismisses the objection")

    clock.set(at("2016-02-23", 11))
    started = perf_counter()
    report = run_jobs(platform.factory, plans=plans, custodian=custodian, now=clock.now())
    step(f"notice ended; run {report.run_no} shared {report.cases_shared} and paid {report.cases_paid} "
         f"in {perf_counter() - started:.2f} s; custodian reconciliation "
         f"{'matched' if report.reconciliation_matched else 'MISMATCH'}")
    with platform.factory() as s:
        peng_case, zhou_case = s.get(Case, peng_case.id), s.get(Case, zhou_case.id)
    return Story(peng_case=peng_case, zhou_case=zhou_case, run_no=report.run_no or "")


def print_public_view(platform: Platform, story: Story, console: Console) -> None:
    with platform.factory() as s:
        table = Table(title="公示案例 Public cases (anonymised)")
        for column in ("case", "name", "sex", "age", "province", "benefit", "amount", "collected", "shortfall",
                       "status"):
            table.add_column(column)
        for case in s.scalars(select(Case).order_by(Case.id)):
            table.add_row(case.case_no, case.masked_name, {"F": "女", "M": "男"}[case.gender], str(case.age),
                          province_for(case.province_code).name_zh, case.benefit_code, format_yuan(case.amount_fen),
                          format_yuan(case.collected_fen or 0), format_yuan(case.shortfall_fen or 0), case.status)
        console.print(table)
        runs = Table(title="分摊批次 Apportionment run")
        for column in ("run", "case", "sharing", "paying", "share each", "+1 fen", "limited by balance", "collected",
                       "shortfall"):
            runs.add_column(column)
        for rc, run_no, case_no in s.execute(
            select(RunCase, ApportionmentRun.run_no, Case.case_no)
            .join(ApportionmentRun, ApportionmentRun.id == RunCase.run_id).join(Case, Case.id == RunCase.case_id)
        ):
            runs.add_row(run_no, case_no, str(rc.sharing_members), str(rc.paying_members), format_yuan(rc.level_fen),
                         str(rc.leftover_fen), str(rc.members_limited_by_balance), format_yuan(rc.collected_fen),
                         format_yuan(rc.shortfall_fen))
        console.print(runs)
        shares = Table(title="每位会员的分摊 What each member paid in this run")
        for column in ("total paid by the member", "members"):
            shares.add_column(column)
        for amount, count in s.execute(text(
            f"SELECT per_member, COUNT(*) FROM (SELECT e.account_id, {SQL_SUM_FEN.format('e.amount')} AS per_member "
            "FROM ledger_entries e "
            "JOIN ledger_transfers t ON t.id = e.transfer_id WHERE t.kind = 'share' AND e.direction = 1 "
            "GROUP BY e.account_id) x GROUP BY per_member ORDER BY per_member DESC")):
            shares.add_row(format_yuan(amount), str(count))
        console.print(shares)
        suspended = s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.status == EnrollmentStatus.SUSPENDED))
        console.print(f"enrollments suspended (balance under 3.00): {suspended}; top up to resume cover")
        violations = check_ledger(s)
        console.print("ledger check: " + ("[green]all invariants hold[/green]" if not violations else
                                          "[red]" + "; ".join(v.invariant for v in violations) + "[/red]"))


def run_demo(settings: Settings, *, members: int, console: Console) -> Story:
    clock = FixedClock(at("2015-03-01"))
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
        console.print(f"imported a pool of {result.members:,} members ({result.enrollments:,} enrollments, "
                      f"balances {format_yuan(result.total_balance_fen)}) in {perf_counter() - started:.1f} s")
    story = replay_article(platform, clock, log=console.print)
    # Leave the sandbox clock where the story ended, so `huzhu serve` continues from there.
    SandboxDbClock(platform.factory).set(clock.now())
    print_public_view(platform, story, console)
    with platform.factory() as s:
        count = s.scalar(select(func.count()).select_from(RunCase))
    console.print(f"{count} case(s) shared; open data: `huzhu export cases --format json`")
    console.print(
        f"Next: `make serve` (or `huzhu serve`) and open http://127.0.0.1:8000 — sign in with password "
        f"{PASSWORD!r} as 13800000001 (彭静's family), 13800000002 (周四喜), 13800000003 (the objector), "
        "investigator@huzhu.example, reviewer@huzhu.example, reviewer2@huzhu.example, admin@huzhu.example "
        "or auditor@huzhu.example. The sandbox clock stays at the story's end; admins can move it."
    )
    return story
