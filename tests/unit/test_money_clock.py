"""Money in fen with exact yuan strings at the edges; the injectable clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huzhu.clock import CHINA_TZ, FixedClock, SystemClock, business_date, start_of_business_day
from huzhu.errors import InvalidInput
from huzhu.money import MAX_FEN, format_yuan, parse_yuan


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("100000.00", 10_000_000),
        ("90000", 9_000_000),
        ("3.00", 300),
        ("0.01", 1),
        ("1.5", 150),
        (" 9.00 ", 900),
        ("123.45", 12345),
        (7, 700),
        (Decimal("2.50"), 250),
        (Decimal("2.5"), 250),
    ],
)
def test_parse_yuan(text: object, fen: int) -> None:
    assert parse_yuan(text) == fen  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0.1, 100.0, 3.0, True, False])
def test_floats_and_bools_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_yuan(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["0.001", "1.234", Decimal("0.001"), Decimal("1.005")])
def test_sub_fen_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_yuan(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["-1.00", "-0.01", -1, Decimal("-3.00"), "0", "0.00", 0, Decimal("0")])
def test_negative_and_zero_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_yuan(bad)  # type: ignore[arg-type]


def test_zero_allowed_when_asked() -> None:
    assert parse_yuan("0.00", allow_zero=True) == 0
    assert parse_yuan(0, allow_zero=True) == 0
    with pytest.raises(InvalidInput):
        parse_yuan("-0.01", allow_zero=True)


@pytest.mark.parametrize("bad", ["", "abc", "1,000.00", "1e5", ".5", "5.", "¥5", "NaN", "Infinity", None])
def test_garbage_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_yuan(bad)  # type: ignore[arg-type]


def test_too_large_is_refused_and_error_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="loss"):
        parse_yuan(MAX_FEN // 100 + 1, field="loss")
    with pytest.raises(InvalidInput, match="loss"):
        parse_yuan("99999999999999.00", field="loss")  # 14 digits of yuan
    assert parse_yuan("9999999999999.99") == MAX_FEN - 1


def test_format_yuan() -> None:
    assert format_yuan(10_000_000) == "100000.00"
    assert format_yuan(300) == "3.00"
    assert format_yuan(1) == "0.01"
    assert format_yuan(0) == "0.00"
    assert format_yuan(-5) == "-0.05"
    assert format_yuan(-12345) == "-123.45"
    for bad in (1.0, True, Decimal("1"), "1"):
        with pytest.raises(TypeError):
            format_yuan(bad)  # type: ignore[arg-type]


def test_round_trip_100000() -> None:
    assert format_yuan(parse_yuan("100000.00")) == "100000.00"


@given(st.integers(min_value=1, max_value=MAX_FEN - 1))
def test_round_trip_property(fen: int) -> None:
    assert parse_yuan(format_yuan(fen)) == fen


# ------------------------------------------------------------------------------- clock


def test_fixed_clock_is_utc_and_only_moves_when_told() -> None:
    start = datetime(2016, 2, 16, 10, 0, tzinfo=CHINA_TZ)
    clock = FixedClock(start)
    assert clock.now() == start
    assert clock.now().tzinfo == UTC
    assert clock.now() == clock.now()
    moved = clock.advance(timedelta(days=7))
    assert moved == start + timedelta(days=7) == clock.now()
    clock.set(datetime(2016, 2, 23, 11, 0, tzinfo=CHINA_TZ))
    assert clock.now() == datetime(2016, 2, 23, 3, 0, tzinfo=UTC)


def test_fixed_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError):
        FixedClock(datetime(2016, 1, 1))  # noqa: DTZ001
    clock = FixedClock(datetime(2016, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.set(datetime(2016, 1, 2))  # noqa: DTZ001


def test_system_clock_is_aware() -> None:
    assert SystemClock().now().tzinfo is not None


def test_business_day_is_the_day_in_china() -> None:
    # 2016-02-06 20:00 UTC is already 2016-02-07 04:00 in China.
    assert business_date(datetime(2016, 2, 6, 20, 0, tzinfo=UTC)) == date(2016, 2, 7)
    assert business_date(datetime(2016, 2, 6, 15, 59, tzinfo=UTC)) == date(2016, 2, 6)
    assert start_of_business_day(date(2016, 2, 7)) == datetime(2016, 2, 6, 16, 0, tzinfo=UTC)


def test_full_width_and_other_unicode_digits_are_refused() -> None:
    for text in ("１００", "١٠٠", "100.０1"):
        with pytest.raises(InvalidInput):
            parse_yuan(text)
