"""Identity: resident ID validation, province codes and PII masking (pure, no database)."""

from huzhu.identity.idnumber import (
    ResidentId,
    check_character,
    convert_15_to_18,
    make_resident_id,
    parse_resident_id,
)
from huzhu.identity.masking import mask_bank_account, mask_email, mask_id_number, mask_name, mask_phone
from huzhu.identity.regions import PROVINCES, Province, province_for

__all__ = [
    "PROVINCES",
    "Province",
    "ResidentId",
    "check_character",
    "convert_15_to_18",
    "make_resident_id",
    "mask_bank_account",
    "mask_email",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "parse_resident_id",
    "province_for",
]
