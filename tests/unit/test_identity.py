from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huzhu.errors import InvalidInput
from huzhu.identity import (
    PROVINCES,
    check_character,
    convert_15_to_18,
    make_resident_id,
    mask_bank_account,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    parse_resident_id,
    province_for,
)

# Published example numbers (GB 11643 / python-stdnum docs).
VALID_MALE = "360426199101010071"
VALID_FEMALE_X = "11010519491231002X"


def test_valid_id_fields():
    rid = parse_resident_id(VALID_MALE)
    assert rid.number == VALID_MALE
    assert rid.birth_date == date(1991, 1, 1)
    assert rid.gender == "M"
    assert rid.region_code == "360426"
    assert rid.province_code == "36"
    assert (rid.province_zh, rid.province_en) == ("江西", "Jiangxi")


def test_lowercase_x_and_spaces_are_normalised():
    rid = parse_resident_id(" 110105 19491231 002x ")
    assert rid.number == VALID_FEMALE_X
    assert rid.gender == "F"
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.province_en == "Beijing"


def test_bad_check_character():
    with pytest.raises(InvalidInput, match="check character"):
        parse_resident_id("360426199101010072")


@pytest.mark.parametrize("text", ["36042619910101007", "3604261991010100711", "123"])
def test_wrong_length(text):
    with pytest.raises(InvalidInput, match=f"18 characters.*it has {len(text)}"):
        parse_resident_id(text)


def test_empty_and_non_digits():
    with pytest.raises(InvalidInput, match="empty"):
        parse_resident_id("   ")
    with pytest.raises(InvalidInput, match="first 17 characters must be digits"):
        parse_resident_id("36042619910101A071")
    with pytest.raises(InvalidInput, match="last character"):
        parse_resident_id("36042619910101007Y")


def test_impossible_birth_date_feb_30():
    first17 = "11010519900230123"
    number = first17 + check_character(first17)  # correct check character, impossible date
    with pytest.raises(InvalidInput, match="1990-02-30.*not a real birth date"):
        parse_resident_id(number)


def test_unknown_province_code():
    first17 = "99010519900101123"
    with pytest.raises(InvalidInput, match="unknown province code 99 "):
        parse_resident_id(first17 + check_character(first17))


def test_future_birth_date_refused_only_with_today():
    number = make_resident_id("450321", date(2030, 1, 1), 1, "F")
    assert parse_resident_id(number).birth_date == date(2030, 1, 1)
    with pytest.raises(InvalidInput, match="future"):
        parse_resident_id(number, today=date(2029, 12, 31))
    assert parse_resident_id(number, today=date(2030, 1, 1)).birth_date == date(2030, 1, 1)


def test_fifteen_digit_conversion():
    # 15-digit form of 110105491231002X: region 110105, born 491231, order 002
    assert convert_15_to_18("110105491231002") == VALID_FEMALE_X
    rid = parse_resident_id("110105491231002")
    assert rid.number == VALID_FEMALE_X
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.gender == "F"
    with pytest.raises(InvalidInput, match="15-digit"):
        parse_resident_id("11010549123100X")


def test_gender_from_17th_digit():
    assert parse_resident_id(make_resident_id("450321", date(1990, 5, 17), 3, "M")).gender == "M"
    assert parse_resident_id(make_resident_id("450321", date(1990, 5, 17), 3, "F")).gender == "F"


def test_make_resident_id_rejects_bad_input():
    with pytest.raises(InvalidInput):
        make_resident_id("4503", date(1990, 1, 1), 1, "M")
    with pytest.raises(InvalidInput):
        make_resident_id("450321", date(1990, 1, 1), 100, "M")
    with pytest.raises(InvalidInput, match="province"):
        make_resident_id("990321", date(1990, 1, 1), 1, "M")


@given(
    region=st.sampled_from(["110101", "450321", "650102", "810000", "440300"]),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    sequence=st.integers(0, 99),
    gender=st.sampled_from(["F", "M"]),
)
def test_make_resident_id_round_trips(region, birth, sequence, gender):
    number = make_resident_id(region, birth, sequence, gender)
    rid = parse_resident_id(number)
    assert (rid.number, rid.birth_date, rid.gender, rid.region_code) == (number, birth, gender, region)


@given(
    first17=st.from_regex(r"\A11010519[5-9][0-9]0[1-9]1[0-9][0-9]{3}\Z"),
    wrong=st.sampled_from(list("0123456789X")),
)
def test_any_single_wrong_check_character_is_refused(first17, wrong):
    right = check_character(first17)
    if wrong == right:
        assert parse_resident_id(first17 + wrong).number == first17 + right
    else:
        with pytest.raises(InvalidInput, match="check character"):
            parse_resident_id(first17 + wrong)


def test_regions_table():
    assert len(PROVINCES) >= 34
    assert province_for("45").name_en == "Guangxi"
    assert province_for("450321").name_zh == "广西"
    assert PROVINCES["11"].name_zh == "北京" and PROVINCES["65"].name_en == "Xinjiang"
    assert {"71", "81", "82"} <= PROVINCES.keys()
    with pytest.raises(InvalidInput):
        province_for("00")


def test_mask_name():
    assert mask_name("彭静") == "彭*"
    assert mask_name("周四喜") == "周**"
    assert mask_name("欧阳修") == "欧**"
    assert mask_name("Ouyang Xiu") == "O********"
    assert mask_name("静") == "*"
    assert mask_name("") == ""


def test_mask_id_number():
    assert mask_id_number("45030219900101123X") == "4503**********123X"
    assert mask_id_number("4503 0219 9001 0112 3x") == "4503**********123X"


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86 138****5678"


def test_mask_bank_account():
    assert mask_bank_account("6222 0212 3456 1234") == "**** **** **** 1234"
    assert mask_bank_account("6222021234567891234") == "**** **** **** 1234"
    assert mask_bank_account("12") == "**** **** **** ****"


def test_mask_email():
    assert mask_email("ab@x.com") == "a*@x.com"
    assert mask_email("pengjing@example.cn") == "p*******@example.cn"
    assert mask_email("a@x.com") == "*@x.com"


@pytest.mark.parametrize(("text", "hidden", "kept"), [
    ("身份证 45032119900615122X 电话 138 0013 8000", ["45032119900615122X", "0013"], ["身份证", "电话"]),
    ("卡号6222-0200-0000-0000-011，邮箱 peng.jing@qq.com", ["6222", "peng.jing"], ["卡号", "@qq.com"]),
    ("旧身份证 450321900615122 和手机13800138000。", ["450321900615122", "13800138000"], ["旧身份证", "。"]),
    ("2016-02-02 事故，金额 100000.00 元，事件 HZ00000001，第 2 级", [], ["2016-02-02", "100000.00", "HZ00000001"]),
])
def test_published_free_text_loses_long_numbers_and_emails(text: str, hidden: list[str], kept: list[str]) -> None:
    from huzhu.identity.masking import redact_identifiers

    redacted = redact_identifiers(text)
    assert all(h not in redacted for h in hidden), redacted
    assert all(k in redacted for k in kept), redacted
    assert len(redacted) == len(text) or "@" in text  # starred in place, the sentence still reads
