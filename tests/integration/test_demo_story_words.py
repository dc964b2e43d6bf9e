"""``huzhu demo`` tells the story in Chinese with English in parentheses: no rule codes
(``benefit_covered``), raw keys (``accidental_death``, ``paid``) or unexplained columns, and the
number of suspended enrollments it prints is the run page's number, with the others explained."""

from __future__ import annotations

import io
import re

from rich.console import Console
from sqlalchemy import func, select

from huzhu.apportionment.models import ApportionmentRun
from huzhu.demo import run_demo
from huzhu.members.models import Enrollment, EnrollmentStatus
from huzhu.platform import Platform


def test_the_demo_story_reads_in_chinese_and_its_numbers_agree_with_the_run_page(platform: Platform,
                                                                                  settings) -> None:  # noqa: ANN001
    out = io.StringIO()
    story = run_demo(settings, members=300, console=Console(file=out, width=400, color_system=None))
    text = out.getvalue()
    for raw in ("benefit_covered", "enrollment_active", "facts_complete", "accidental_death",
                "accidental_disability", "limited by balance", "+1 fen │"):
        assert raw not in text, raw
    assert not re.search(r"│ paid\s+│", text)
    assert "已支付（paid）" in text and "意外身故（Accidental death）" in text
    assert "多付1分" in text and "余额不足" in text and "按公布的规则" in text
    assert "✓ 等待期已过" in text and "公示至 2016年2月23日 10:00" in text
    with platform.factory() as s:
        run = s.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == story.run_no))
        suspended = s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.status == EnrollmentStatus.SUSPENDED))
    by_run = re.search(r"suspended by this run, as on the run page）：([\d,]+)", text)
    before = re.search(r"already suspended before the run）：([\d,]+)", text)
    now = re.search(r"suspended now）：([\d,]+)", text)
    assert by_run and before and now, text[-800:]
    assert int(by_run[1].replace(",", "")) == run.suspended_enrollments
    assert int(now[1].replace(",", "")) == suspended
    assert int(before[1].replace(",", "")) == suspended - run.suspended_enrollments
