"""Engine errors that carry values: English with the values filled in for the API, and translated
templates with the same values for the pages (a Chinese member must not read "fen" in English)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from huzhu.accounts.passwords import check_password_strength
from huzhu.errors import DomainError, InsufficientFunds
from huzhu.identity import check_character, make_resident_id, parse_resident_id
from huzhu.web.i18n import gettext

SRC = Path(__file__).resolve().parents[2] / "src" / "huzhu"
CATALOG = SRC / "web" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"


def zh(exc: DomainError) -> str:
    return gettext("zh_CN", exc.template, **exc.params)


def test_the_api_gets_english_with_values_and_the_template_keeps_them_apart() -> None:
    exc = InsufficientFunds("available balance is %(available)s yuan; cannot withdraw %(amount)s yuan",
                            params={"available": "4.50", "amount": "1000.00"})
    assert exc.message == str(exc) == "available balance is 4.50 yuan; cannot withdraw 1000.00 yuan"
    assert zh(exc) == "可用余额为 4.50 元，无法提现 1000.00 元"
    plain = DomainError("100% sure")  # no params: the text is not a template
    assert plain.message == "100% sure"


@pytest.mark.parametrize(("action", "expected"), [
    (lambda: check_password_strength("short1"), "密码长度须为8至128个字符"),
    (lambda: parse_resident_id("1101011990"), "身份证号应为18位（旧版为15位数字）；当前为10位"),
    (lambda: parse_resident_id("99010119900101001" + check_character("99010119900101001")), "前两位省份代码 99 不存在"),
    (lambda: parse_resident_id(make_resident_id("110101", date(2030, 1, 1), 1, "M"), today=date(2026, 1, 1)),
     "出生日期 2030-01-01 晚于今天"),
])
def test_id_and_password_errors_read_in_chinese(action, expected: str) -> None:  # noqa: ANN001
    with pytest.raises(DomainError) as info:
        action()
    assert expected in zh(info.value)
    assert "%(" not in zh(info.value)


def test_every_template_raised_with_params_is_in_the_chinese_catalog() -> None:
    """A template added to the engine without a translation would reach Chinese pages in English."""
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id: m.string for m in catalog if m.id and m.string}
    raised = set()
    pattern = re.compile(r'raise \w+\(\s*"([^"]*%\([a-z_]+\)s[^"]*)"\s*,[^)]*params=', re.S)
    for path in SRC.rglob("*.py"):
        raised.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert len(raised) >= 10
    missing = sorted(raised - translated.keys())
    assert missing == []
    for template in raised:  # the translation may drop a value, never invent one
        names = set(re.findall(r"%\((\w+)\)s", translated[template]))
        assert names <= set(re.findall(r"%\((\w+)\)s", template)) | {"plan_zh", "benefit_zh"}, template


def test_claim_timeline_notes_read_in_the_readers_language() -> None:
    from types import SimpleNamespace

    from huzhu.claims.service import NOTE_APPROVED, NOTE_FILED, NOTE_REJECTED, TIMELINE_NOTES
    from huzhu.web.member import timeline_note

    zh_ctx = SimpleNamespace(_=lambda message, **params: gettext("zh_CN", message, **params))
    en_ctx = SimpleNamespace(_=lambda message, **params: gettext("en", message, **params))
    assert timeline_note(zh_ctx, NOTE_FILED) == "已提交申请"
    assert timeline_note(zh_ctx, NOTE_APPROVED % {"amount": "90000.00"}) == "按计划规则核定金额 90000.00 元"
    assert timeline_note(zh_ctx, NOTE_REJECTED % {"reason": "事故发生在等待期内: 见报告"}) == "未通过：事故发生在等待期内: 见报告"
    assert timeline_note(en_ctx, NOTE_APPROVED % {"amount": "1.00"}) == "approved at 1.00 by the plan rules"
    assert timeline_note(zh_ctx, "a note written before the templates") == "a note written before the templates"
    with CATALOG.open("rb") as handle:
        translated = {m.id for m in read_po(handle) if m.id and m.string}
    assert set(TIMELINE_NOTES) <= translated


def test_the_reason_a_member_sees_for_a_suspension_is_translated() -> None:
    """The member page shows the latest enrollment event's reason: the engine writes these few."""
    import re as _re

    service = (SRC / "members" / "service.py").read_text(encoding="utf-8")
    reasons = set(_re.findall(r'reason="([^"]+)"', service)) | set(_re.findall(r'"reason": "([^"]+)"', service))
    assert "balance below the plan minimum" in reasons
    for reason in reasons:
        assert gettext("zh_CN", reason) != reason, reason
