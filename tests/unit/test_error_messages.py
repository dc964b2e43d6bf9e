"""Engine errors carry a stable code and their values: English with the values filled in for the API,
and the code's catalog text with the same values, in the reader's language, for the pages (a
Chinese member must not read "fen" in English)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import huzhu
from huzhu.accounts.passwords import check_password_strength
from huzhu.errors import CommonError, DomainError, ErrorCode, InsufficientFunds, InvalidInput
from huzhu.identity import check_character, make_resident_id, parse_resident_id
from huzhu.members.errors import MemberError
from huzhu.messages import MessageCode, Name, all_codes, placeholders
from huzhu.money import parse_yuan
from huzhu.plans.loader import load_plans
from huzhu.plans.rules import ClaimFacts, RuleCheck, evaluate_claim
from huzhu.web.i18n import gettext
from huzhu.web.words import ENUMS, LABELS, error_text, word

SRC = Path(__file__).resolve().parents[2] / "src" / "huzhu"
CATALOG = SRC / "web" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
NOT_YET_CODED: tuple[str, ...] = ()  # every room raises coded errors now


def zh(exc: DomainError) -> str:
    return error_text("zh_CN", exc)


def every_code() -> list[MessageCode]:
    """Every code of every domain: import every module first, so each enum is defined."""
    for module in pkgutil.walk_packages(huzhu.__path__, "huzhu."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    return list(all_codes())


def chinese_catalog() -> dict[tuple[str | None, str], str]:
    with CATALOG.open("rb") as handle:
        return {(m.context, m.id): m.string for m in read_po(handle) if m.id and m.string}


def test_the_api_gets_english_with_values_and_the_pages_the_code_in_their_language() -> None:
    exc = InsufficientFunds(MemberError.OVER_BALANCE, available="4.50", amount="1000.00")
    assert exc.message == str(exc) == "available balance is 4.50 yuan; cannot withdraw 1000.00 yuan"
    assert exc.code == MemberError.OVER_BALANCE and exc.params == {"available": "4.50", "amount": "1000.00"}
    assert zh(exc) == "可用余额为 4.50 元，无法提现 1000.00 元"
    assert error_text("en", exc) == exc.message
    plain = DomainError("100% sure")  # the old form (an English sentence, no params): not a template
    assert plain.message == "100% sure" and plain.code == CommonError.BAD_REQUEST and not plain.coded


def test_a_code_takes_exactly_its_values() -> None:
    with pytest.raises(TypeError, match="available"):
        InsufficientFunds(MemberError.OVER_BALANCE, amount="1.00")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="availble"):
        InsufficientFunds(MemberError.OVER_BALANCE, availble="1.00", amount="1.00")


def test_errors_raised_the_old_way_read_as_their_kind_on_chinese_pages() -> None:
    """An error raised with an English sentence (the old form, still accepted) reads as its kind."""
    exc = InsufficientFunds("available balance %(available)s yuan is less than %(amount)s yuan",
                            params={"available": "1.00", "amount": "3.00"}, account_id=7)
    assert exc.message == "available balance 1.00 yuan is less than 3.00 yuan" and exc.details == {"account_id": 7}
    assert exc.code == CommonError.INSUFFICIENT_FUNDS
    assert zh(exc) == "可用余额不足"
    assert error_text("en", exc) == exc.message


@pytest.mark.parametrize(("action", "expected"), [
    (lambda: check_password_strength("short1"), "密码长度须为8至128个字符"),
    (lambda: parse_resident_id("1101011990"), "身份证号应为18位（旧版为15位数字）；当前为10位"),
    (lambda: parse_resident_id("99010119900101001" + check_character("99010119900101001")), "前两位省份代码 99 不存在"),
    (lambda: parse_resident_id(make_resident_id("110101", date(2030, 1, 1), 1, "M"), today=date(2026, 1, 1)),
     "出生日期 2030-01-01 晚于今天"),
    (lambda: parse_yuan("12.345"), "金额："),
])
def test_id_password_and_amount_errors_read_in_chinese(action, expected: str) -> None:  # noqa: ANN001
    with pytest.raises(DomainError) as info:
        action()
    assert expected in zh(info.value)
    assert "%(" not in zh(info.value)
    assert not re.search(r"[A-Za-z]{4,}", zh(info.value)), zh(info.value)


def test_every_code_has_chinese_with_exactly_its_values() -> None:
    """A code added without a translation would reach a Chinese page in English; a translation that
    drops or invents a value would show the wrong figure or fail."""
    codes = every_code()
    assert len(codes) > 150 and {type(c) for c in codes} >= {CommonError, MemberError}
    values = [c.value for c in codes]
    assert len(values) == len(set(values)), "a code is declared twice"
    catalog = chinese_catalog()
    missing = [c for c in codes if (c.value, c.template) not in catalog]
    paste = "\n\n".join(f'msgctxt "{c.value}"\nmsgid "{c.template}"\nmsgstr ""' for c in missing)
    assert not missing, "add these to translations/*/LC_MESSAGES/messages.po (msgctxt = code):\n\n" + paste
    for code in codes:
        chinese = catalog[code.value, code.template]
        assert placeholders(chinese) == code.names, (code.value, chinese)
        assert chinese.count("%%") == code.template.count("%%"), code.value


def test_every_raise_carries_a_code() -> None:
    """``raise InvalidInput("an English sentence")`` reaches a Chinese page as a generic text only."""
    every_code()  # imports every module, so every kind of error is known
    kinds = "|".join(sorted(kind.__name__ for kind in [DomainError, *_subclasses(DomainError)]))
    pattern = re.compile(rf"raise\s+(?:\w+\.)?(?:{kinds})\(\s*f?[\"']")
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] in NOT_YET_CODED or relative.parts[0] == "migrations":
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{relative}:{text[:m.start()].count(chr(10)) + 1}" for m in pattern.finditer(text)]
    assert offenders == []


def test_every_state_has_a_label_in_chinese() -> None:
    catalog = chinese_catalog()
    assert set(ENUMS) <= set(LABELS)
    for enum, labels in LABELS.items():
        assert set(labels) == set(enum), enum  # every member has one
        for member, label in labels.items():
            assert (None, label) in catalog, (member, label)


def test_words_inside_messages_read_in_the_page_s_language() -> None:
    from huzhu.claims.errors import ClaimError
    from huzhu.claims.models import ClaimStatus
    from huzhu.errors import InvalidTransition, NotEligible

    exc = InvalidTransition(ClaimError.WRONG_STATE, claim="HZC00000001", status=ClaimStatus.APPROVED,
                            expected=ClaimStatus.REVIEWING)
    assert exc.message == "claim HZC00000001 is approved; this action needs it to be reviewing"
    assert zh(exc) == "申请 HZC00000001 当前状态为已通过，此操作要求状态为审核中"
    benefit = Name("accidental_death", "Accidental death", "意外身故")
    exc = NotEligible(ClaimError.BEFORE_IN_FORCE, incident=date(2016, 2, 6), benefit=benefit,
                      in_force=date(2016, 2, 7))
    assert exc.message == "the incident on 2016-02-06 is before Accidental death came into force on 2016-02-07"
    assert zh(exc) == "事故发生于 2016年2月6日，早于“意外身故”的生效日 2016年2月7日"


@pytest.mark.parametrize(("benefit", "facts", "active", "incident"), [
    ("accidental_disability", ClaimFacts(disability_grades=(7, 2, 9)), True, date(2016, 2, 9)),
    ("accidental_disability", ClaimFacts(), False, date(2016, 2, 6)),
    ("accidental_death", ClaimFacts(), True, date(2016, 2, 9)),
    ("critical_illness", ClaimFacts(), True, date(2016, 2, 9)),
])
def test_every_rule_check_finding_reads_in_chinese_also_once_recorded(benefit: str, facts: ClaimFacts,
                                                                      active: bool, incident: date) -> None:
    plan = load_plans(SRC.parents[1] / "plans")["comprehensive-accident"]
    evaluation = evaluate_claim(plan, benefit_code=benefit, incident_date=incident, coverage_anchor=date(2016, 2, 6),
                                enrollment_active_on_incident=active, facts=facts)
    for check in evaluation.checks:
        recorded = RuleCheck.from_stored(json.loads(json.dumps(check.stored())))
        assert recorded == check
        text = word("zh_CN", recorded.message).replace(f"'{benefit}'", "")  # a benefit the plan does not have
        assert "%(" not in text and not re.search(r"[A-Za-z]{4,}", text), (check.code, text)


def test_generic_codes_cover_every_kind_of_error() -> None:
    kinds = [DomainError, *_subclasses(DomainError)]
    assert all(isinstance(kind.generic, ErrorCode) for kind in kinds)
    assert InvalidInput.generic == CommonError.INVALID_INPUT


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


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


def test_the_note_a_withdrawn_case_s_other_objections_get_reads_in_chinese() -> None:
    """The engine fills it in English when an objection is upheld; pages read it back by its code."""
    from huzhu.casework.errors import CaseworkText
    from huzhu.casework.service import resolution_note

    stored = CaseworkText.CASE_WITHDRAWN.english({"objection": 12})
    assert stored == "case withdrawn after objection 12 was upheld"
    assert word("zh_CN", resolution_note(stored)) == "第 12 号异议成立后，该事件已撤回"
    assert word("en", resolution_note(stored)) == stored
    assert resolution_note("医院记录确认受伤时间。") == "医院记录确认受伤时间。"  # a reviewer's own words stay as written


def test_custody_refusals_read_in_chinese_with_their_words() -> None:
    """The queue's kinds and resolutions, and the element of a bank message at fault, in the reader's language."""
    from huzhu.banking.errors import BankingError, exception_kind, resolutions
    from huzhu.custody.errors import Iso20022Error, where
    from huzhu.messages import plain

    exc = InvalidInput(BankingError.RESOLUTION_NOT_ALLOWED, kind=exception_kind("unknown_reference"),
                       choices=resolutions(("book_to_member", "acknowledge")))
    assert exc.message == "a unknown_reference exception is resolved by one of book_to_member or acknowledge"
    assert zh(exc) == ("“附言无法识别的入账”类异常只能按以下方式之一处理：“记入该会员账户”（book_to_member）"
                       "或“确认（已处理）”（acknowledge）")
    assert {k: plain(v) for k, v in exc.params.items()} == {
        "kind": "unknown_reference", "choices": ["book_to_member", "acknowledge"]}
    exc = InvalidInput(Iso20022Error.NO_BOOKING_DATE, msg="camt.053", what=where("entry 3 transaction 2"))
    assert exc.message == "camt.053: entry 3 transaction 2 has no booking date"
    assert zh(exc) == "camt.053：第 3 笔分录的第 2 笔交易缺少记账日期"
    assert plain(exc.params["what"]) == "entry 3 transaction 2"
    assert where("block 2 payment 4 instructed amount").zh == "第 2 个付款批次的第 4 笔付款的指示金额"
    assert where("an element this reader does not know").zh == "an element this reader does not know"
