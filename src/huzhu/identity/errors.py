"""The identity domain's error codes (resident ID numbers and regions)."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class IdentityError(ErrorCode):
    NOT_TEXT = ("identity.not_text", "ID number must be given as text")
    EMPTY = ("identity.empty", "ID number is empty")
    LENGTH = ("identity.length", "ID number must have 18 characters (or 15 digits in the old form); it has %(n)s")
    OLD_FORM_DIGITS = ("identity.old_form_digits", "ID number: the old 15-digit form must consist of digits only")
    FIRST_17_DIGITS = ("identity.first_17_digits", "ID number: the first 17 characters must be digits")
    LAST_CHARACTER = ("identity.last_character", "ID number: the last character must be a digit or X")
    CHECK_CHARACTER = ("identity.check_character",
                       "ID number: the check character (the last one) does not match the other digits; "
                       "please look for a typing mistake")
    NOT_A_DATE = ("identity.not_a_date", "ID number: %(date)s (characters 7-14) is not a real birth date")
    BORN_BEFORE_1900 = ("identity.born_before_1900", "ID number: birth date %(date)s is before 1900")
    BORN_IN_FUTURE = ("identity.born_in_future", "ID number: birth date %(date)s is in the future")
    UNKNOWN_PROVINCE = ("identity.unknown_province",
                        "ID number: unknown province code %(code)s (the first two digits)")
    REGION_PROVINCE = ("identity.region_province",
                       "unknown province code %(code)s (the first two digits of the region code)")
    # Building test numbers (make_resident_id, check_character): programming errors, never input.
    CHECK_NEEDS_17 = ("identity.check_needs_17", "ID number: the check character needs exactly 17 digits")
    OLD_FORM_15 = ("identity.old_form_15", "ID number: the old 15-digit form must consist of 15 digits")
    REGION_CODE = ("identity.region_code", "region_code must be 6 digits")
    SEQUENCE = ("identity.sequence", "sequence must be between 0 and 99")
    GENDER = ("identity.gender", "gender must be 'F' or 'M'")
    BIRTH_YEAR = ("identity.birth_year", "birth date must be in 1900 or later")
