"""The command line on a real database: bulk import (all or nothing), open-data exports that
never leak personal data, and the article demo."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from huzhu.clock import CHINA_TZ, FixedClock, start_of_business_day
from huzhu.config import get_settings
from huzhu.ledger.invariants import check_ledger
from huzhu.members.models import Enrollment, EnrollmentEvent, Member
from huzhu.platform import Platform

from .helpers import (
    ACCIDENT,
    DRIVING,
    QUARK_NO1,
    approved_case,
    at,
    available,
    count_rows,
    driving_facts,
    import_pool,
    join_member,
    make_staff,
    unique_id_number,
    write_pool,
)

WRITES = ("members", "enrollments", "enrollment_events", "ledger_accounts", "ledger_transfers", "ledger_entries",
          "bank_transactions")


def cli(args: list[str], **env: str | None) -> tuple[int, str]:
    from huzhu.cli import app

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, args, env={"HUZHU_MODE": "sandbox", **env})
    finally:
        get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_members_import_good_file(platform: Platform, database_url: str, tmp_path: Path) -> None:
    ids = [unique_id_number(date(1980, 1, 1) + (date(1980, 1, 2) - date(1980, 1, 1)) * i) for i in range(4)]
    path = write_pool(tmp_path / "pool.csv", [
        ("张伟", ids[0], ACCIDENT, "2014-06-01", "9.00"),
        ("李娜", ids[1], f"{ACCIDENT};{QUARK_NO1}", "2014-07-15", "12.00"),
        ("王芳", ids[2], DRIVING, "2015-01-31", "2.99"),
        ("赵强", ids[3], ACCIDENT, "2013-12-31", "0.00"),
    ])
    code, output = cli(["members", "import", str(path)], HUZHU_DATABASE_URL=database_url)
    assert code == 0, output
    assert "imported 4 members, 5 enrollments (2 suspended), balances 23.99" in output

    with platform.factory() as s:
        by_id = {m.id_number: m for m in s.scalars(select(Member))}
        assert set(by_id) == set(ids)
        assert [available(s, by_id[n].id) for n in ids] == [900, 1200, 299, 0]
        status = {(e.member_id, e.plan_code): e for e in s.scalars(select(Enrollment))}
        li = by_id[ids[1]].id
        assert {k[1] for k in status if k[0] == li} == {ACCIDENT, QUARK_NO1}
        assert status[(by_id[ids[0]].id, ACCIDENT)].status == "active"
        assert status[(by_id[ids[2]].id, DRIVING)].status == "suspended"
        assert status[(by_id[ids[3]].id, ACCIDENT)].status == "suspended"
        # Coverage counts from the joining day in the file.
        e = status[(li, QUARK_NO1)]
        assert e.joined_on == e.coverage_anchor_on == date(2014, 7, 15)
        assert e.joined_at == start_of_business_day(date(2014, 7, 15))
        first_event = s.scalar(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == e.id)
                               .order_by(EnrollmentEvent.id).limit(1))
        assert first_event is not None and first_event.status == "active"
        assert first_event.occurred_at == start_of_business_day(date(2014, 7, 15))
        suspended = status[(by_id[ids[2]].id, DRIVING)]
        events = [ev.status for ev in s.scalars(select(EnrollmentEvent).where(
            EnrollmentEvent.enrollment_id == suspended.id).order_by(EnrollmentEvent.id))]
        assert events == ["active", "suspended"]
        assert check_ledger(s) == []
        before = count_rows(s, *WRITES)

    # The same file twice is refused, and writes nothing.
    code, output = cli(["members", "import", str(path)], HUZHU_DATABASE_URL=database_url)
    assert code == 1 and "already imported" in output
    with platform.factory() as s:
        assert count_rows(s, *WRITES) == before

    # A new file naming an ID already registered is refused too.
    again = write_pool(tmp_path / "again.csv", [("张伟", ids[0], ACCIDENT, "2014-06-01", "5.00")])
    code, output = cli(["members", "import", str(again)], HUZHU_DATABASE_URL=database_url)
    assert code == 1 and "already registered" in output
    with platform.factory() as s:
        assert count_rows(s, *WRITES) == before


def test_members_import_bad_file_writes_nothing_and_names_the_lines(platform: Platform, database_url: str,
                                                                    tmp_path: Path) -> None:
    with platform.factory() as s:
        before = count_rows(s, *WRITES)  # only the custody account the platform opens at start-up
    good = unique_id_number(date(1985, 5, 5))
    bad_check = good[:17] + ("1" if good[17] != "1" else "2")
    path = write_pool(tmp_path / "bad.csv", [
        ("好会员", good, ACCIDENT, "2014-06-01", "9.00"),                                   # line 2
        ("坏号码", bad_check, ACCIDENT, "2014-06-01", "9.00"),                              # line 3
        ("重复者", good, ACCIDENT, "2014-06-01", "9.00"),                                   # line 4
        ("无计划", unique_id_number(date(1986, 6, 6)), "no-such-plan", "2014-06-01", "9.00"),  # line 5
        ("太老了", unique_id_number(date(1930, 1, 1)), QUARK_NO1, "2014-06-01", "9.00"),     # line 6
        ("坏金额", unique_id_number(date(1987, 7, 7)), ACCIDENT, "2014-06-01", "9.001"),     # line 7
        ("好会员二", unique_id_number(date(1988, 8, 8)), ACCIDENT, "2014-06-01", "9.00"),    # line 8
    ])
    code, output = cli(["members", "import", str(path)], HUZHU_DATABASE_URL=database_url)
    assert code == 1, output
    text = " ".join(output.split())
    assert "nothing was written" in text
    for line, words in ((3, "check character"), (4, "twice"), (5, "unknown plan"), (6, "50"), (7, "balance")):
        assert re.search(rf"line {line}: [^;]*?{words}", text), (line, words, text)
    assert "line 2:" not in text and "line 8:" not in text
    with platform.factory() as s:
        assert count_rows(s, *WRITES) == before

    # Missing columns are named.
    headerless = tmp_path / "columns.csv"
    headerless.write_text("name,id_number\n张三,110101198001010015\n", encoding="utf-8")
    code, output = cli(["members", "import", str(headerless)], HUZHU_DATABASE_URL=database_url)
    assert code == 1 and "missing column" in output
    with platform.factory() as s:
        assert count_rows(s, *WRITES) == before


def test_exports_are_anonymised(platform: Platform, clock: FixedClock, database_url: str, tmp_path: Path) -> None:
    staff = make_staff(platform, clock)
    pool_ids = import_pool(platform, clock, tmp_path / "pool.csv", ["9.00", "9.00", "9.00"])
    claimant = join_member(platform, clock, name="欧阳娜娜", phone="13912345678", plans=(DRIVING,),
                           region="450321", gender="F", birth=date(1990, 6, 15))
    clock.set(at("2015-03-05"))
    approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                  incident=date(2015, 3, 4), facts=driving_facts("5.55"))
    clock.set(at("2015-03-13"))
    from huzhu.jobs import run_jobs

    run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=clock.now())
    with platform.factory() as s:
        claimant_row = s.get(Member, claimant.member_id)
        assert claimant_row is not None
        claimant_number = claimant_row.id_number  # unsealed while the session is open
        secrets = {claimant_row.name, claimant_number, "13912345678", "6222020000000000011", "受益人"}
        for member_id in pool_ids:
            pool_member = s.get(Member, member_id)
            assert pool_member is not None
            secrets |= {pool_member.name, pool_member.id_number}

    outputs = {}
    for dataset in ("cases", "runs", "records"):
        for fmt in ("csv", "json"):
            code, output = cli(["export", dataset, "--format", fmt], HUZHU_DATABASE_URL=database_url)
            assert code == 0, output
            outputs[dataset, fmt] = output
            for secret in secrets:
                assert secret not in output, (dataset, fmt, secret)
            # Not even the ID number's distinctive middle (the birth date with the order code).
            assert claimant_number[6:17] not in output

    cases = json.loads(outputs["cases", "json"])
    assert len(cases) == 1
    case = cases[0]
    assert (case["masked_name"], case["gender"], case["age"], case["province_en"]) == ("欧***", "F", 24, "Guangxi")
    assert (case["amount"], case["collected"], case["shortfall"], case["fee"], case["status"]) == (
        "5.55", "5.55", "0.00", "0.00", "paid")
    assert set(case) >= {"case_no", "plan", "benefit", "notice_starts_at", "notice_ends_at", "investigation_summary"}
    # CSV starts with the UTF-8 byte-order mark (Excel on Chinese Windows reads it as UTF-8, not GBK).
    assert outputs["cases", "csv"].startswith("\ufeffcase_no,") and not outputs["cases", "json"].startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(outputs["cases", "csv"].removeprefix("\ufeff"))))
    assert rows[0]["case_no"] == case["case_no"] and rows[0]["masked_name"] == "欧***"

    runs = json.loads(outputs["runs", "json"])
    assert len(runs) == 1
    assert (runs[0]["case_no"], runs[0]["sharing_members"], runs[0]["collected"], runs[0]["share_per_member"],
            runs[0]["members_paying_one_fen_more"]) == (case["case_no"], 3, "5.55", "1.85", 0)
    assert runs[0]["shares_root"] and len(runs[0]["shares_root"]) == 64
    run_rows = list(csv.DictReader(io.StringIO(outputs["runs", "csv"].removeprefix("\ufeff"))))
    assert run_rows[0]["run_no"] == runs[0]["run_no"]

    code, output = cli(["export", "members", "--format", "csv"], HUZHU_DATABASE_URL=database_url)
    assert code == 1 and "dataset must be one of" in output
    code, output = cli(["export", "cases", "--format", "xml"], HUZHU_DATABASE_URL=database_url)
    assert code == 1 and "format must be csv or json" in output


def test_demo_replays_the_article(tmp_path: Path) -> None:
    env = {"HUZHU_DATA_DIR": str(tmp_path / "data"), "HUZHU_DATABASE_URL": None}
    code, output = cli(["demo", "--members", "2000", "--reset"], **env)
    assert code == 0, output
    flat = " ".join(output.split())
    match = re.search(r"审核通过（approved）：(HZ\d{6}) 100,000\.00 元，(HZ\d{6}) 90,000\.00 元", flat)
    assert match, output
    peng, zhou = match.groups()
    assert peng != zhou
    assert "导入现有会员 2,000 人" in flat
    assert "所有不变量均成立（all invariants hold）" in flat
    assert re.search(rf"分摊了 {peng}、{zhou}，托管银行已支付 {peng}、{zhou}", flat), flat
    assert "对账一致（reconciliation matched）" in flat
    assert "已分摊 2 起事件" in flat
    # Without --reset the demo refuses a database that already has members.
    code, output = cli(["demo", "--members", "2000"], **env)
    assert code == 1 and "--reset" in output
    # The sandbox clock was left where the story ended.
    code, output = cli(["clock", "show"], **env)
    assert code == 0
    shown = datetime.fromisoformat(output.strip())
    assert shown.astimezone(CHINA_TZ).date() == date(2016, 2, 23)


def test_exports_of_an_empty_platform_still_name_their_columns(platform: Platform) -> None:
    from huzhu.exports import EMPTY_HEADERS, export

    with platform.factory() as s:
        for dataset, columns in EMPTY_HEADERS.items():
            if dataset == "records":  # a new platform's log already holds its plans' rule versions
                rows = json.loads(export(s, dataset, "json"))
                assert {r["kind"] for r in rows} == {"plan_rules"} and len(rows) == len(platform.plans)
                assert export(s, dataset, "csv").splitlines()[0] == "\ufeff" + ",".join(columns)
                continue
            assert export(s, dataset, "csv").splitlines() == ["\ufeff" + ",".join(columns)]
            assert export(s, dataset, "json") == "[]"
