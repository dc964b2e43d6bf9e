"""Chinese resident identity card numbers (居民身份证号码, GB 11643-1999).

18 characters: 6-digit region code, 8-digit birth date (YYYYMMDD), 3-digit order code (odd = male,
even = female), and an ISO 7064 MOD 11-2 check character (0-9 or X). The legacy 15-digit form
(2-digit year, no check character) is accepted and converted to 18 characters.

The check character is computed with python-stdnum (``stdnum.cn.ric``). The region is checked only
at province level: stdnum's county table records when each county code came into use, and rejects
people born before that year, which would refuse valid IDs of older members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from stdnum.cn import ric

from huzhu.errors import InvalidInput
from huzhu.identity.errors import IdentityError
from huzhu.identity.regions import PROVINCES, province_for

Gender = Literal["F", "M"]

_WHITESPACE = re.compile(r"\s+")
_EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class ResidentId:
    number: str  # 18 characters, upper-case X
    birth_date: date
    gender: Gender
    region_code: str  # 6 digits
    province_code: str  # 2 digits
    province_zh: str
    province_en: str


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidInput(IdentityError.CHECK_NEEDS_17)
    # stdnum's calc_check_digit expects the full number and ignores its last character.
    return ric.calc_check_digit(first17 + "0")


def convert_15_to_18(number15: str) -> str:
    """Convert a legacy 15-digit ID (born 19YY) to the 18-character form."""
    if len(number15) != 15 or not number15.isascii() or not number15.isdigit():
        raise InvalidInput(IdentityError.OLD_FORM_15)
    first17 = number15[:6] + "19" + number15[6:]
    return first17 + check_character(first17)


def _normalise(text: str) -> str:
    if not isinstance(text, str):
        raise InvalidInput(IdentityError.NOT_TEXT)
    number = _WHITESPACE.sub("", text).upper()
    if not number:
        raise InvalidInput(IdentityError.EMPTY)
    if len(number) == 15:
        if not (number.isascii() and number.isdigit()):
            raise InvalidInput(IdentityError.OLD_FORM_DIGITS)
        return convert_15_to_18(number)
    if len(number) != 18:
        raise InvalidInput(IdentityError.LENGTH, n=len(number))
    return number


def _birth_date(number: str) -> date:
    digits = number[6:14]
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise InvalidInput(IdentityError.NOT_A_DATE, date=f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}") from None
    if born < _EARLIEST_BIRTH:
        raise InvalidInput(IdentityError.BORN_BEFORE_1900, date=born.isoformat())
    return born


def parse_resident_id(text: str, *, today: date | None = None) -> ResidentId:
    """Validate and normalise a resident ID number; raise ``InvalidInput`` saying what is wrong.

    Spaces are removed and a lower-case 'x' becomes 'X'. With ``today`` given, a birth date after
    ``today`` is refused.
    """
    number = _normalise(text)
    if not (number[:17].isascii() and number[:17].isdigit()):
        raise InvalidInput(IdentityError.FIRST_17_DIGITS)
    last = number[17]
    if not (last.isdigit() or last == "X"):
        raise InvalidInput(IdentityError.LAST_CHARACTER)
    if last != check_character(number[:17]):
        raise InvalidInput(IdentityError.CHECK_CHARACTER)
    born = _birth_date(number)
    if number[:2] not in PROVINCES:
        raise InvalidInput(IdentityError.UNKNOWN_PROVINCE, code=number[:2])
    if today is not None and born > today:
        raise InvalidInput(IdentityError.BORN_IN_FUTURE, date=born.isoformat())
    province = province_for(number[:2])
    return ResidentId(
        number=number,
        birth_date=born,
        gender="M" if int(number[16]) % 2 == 1 else "F",
        region_code=number[:6],
        province_code=province.code,
        province_zh=province.name_zh,
        province_en=province.name_en,
    )


def make_resident_id(region_code: str, birth: date, sequence: int, gender: Gender) -> str:
    """Build a valid 18-character ID for tests and the demo.

    The order code is ``sequence`` (0..99, two digits) followed by 1 for a man or 2 for a woman.
    """
    if len(region_code) != 6 or not region_code.isascii() or not region_code.isdigit():
        raise InvalidInput(IdentityError.REGION_CODE)
    province_for(region_code)
    if not 0 <= sequence <= 99:
        raise InvalidInput(IdentityError.SEQUENCE)
    if gender not in ("F", "M"):
        raise InvalidInput(IdentityError.GENDER)
    if birth < _EARLIEST_BIRTH or birth.year > 9999:
        raise InvalidInput(IdentityError.BIRTH_YEAR)
    first17 = f"{region_code}{birth:%Y%m%d}{sequence:02d}{1 if gender == 'M' else 2}"
    return first17 + check_character(first17)
