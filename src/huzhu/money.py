"""Money is integer fen (分) inside and an exact decimal string ("100000.00") at the edges.

Floats never touch an amount: parsing goes through ``Decimal`` from the string form and refuses
anything that is not a whole number of fen.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from huzhu.errors import ErrorCode, InvalidInput

Fen = int

_AMOUNT = re.compile(r"^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$", re.ASCII)  # ASCII: no full-width digits
MAX_FEN = 10**15  # 10 trillion yuan: far above any real amount, far below int64 overflow


class AmountField(StrEnum):
    """The amounts people type (named in ``parse_yuan``'s refusals)."""

    AMOUNT = "amount"
    LOSS = "loss"
    INSURANCE_PAID = "insurance_paid"
    BALANCE = "balance"


class MoneyError(ErrorCode):
    FLOAT = ("money.float", '%(field)s: give the amount as a decimal string like "123.45", not a float')
    INVALID = ("money.invalid", "%(field)s: %(text)s is not a valid amount")
    TOO_PRECISE = ("money.too_precise",
                   "%(field)s: %(text)s has more than two decimal places (smaller than one fen)")
    NOT_AN_AMOUNT = ("money.not_an_amount",
                     '%(field)s: %(text)s is not an amount in yuan with at most two decimals, e.g. "100000.00"')
    NEGATIVE = ("money.negative", "%(field)s: amount must not be negative")
    ZERO = ("money.zero", "%(field)s: amount must be greater than zero")
    TOO_LARGE = ("money.too_large", "%(field)s: amount is too large")


def parse_yuan(text: str | int | Decimal, *, field: AmountField | str = AmountField.AMOUNT,
               allow_zero: bool = False) -> Fen:
    """Parse "123.45" (yuan, at most two decimals) into fen; refuse floats, sub-fen and negatives."""
    named: AmountField | str = AmountField(field) if field in tuple(AmountField) else field
    if isinstance(text, bool) or isinstance(text, float):
        raise InvalidInput(MoneyError.FLOAT, field=named)
    if isinstance(text, int):
        fen = text * 100
    elif isinstance(text, Decimal):
        try:
            quantized = text.quantize(Decimal("0.01"))
        except InvalidOperation as exc:
            raise InvalidInput(MoneyError.INVALID, field=named, text=repr(text)) from exc
        if quantized != text:
            raise InvalidInput(MoneyError.TOO_PRECISE, field=named, text=str(text))
        fen = int(quantized * 100)
    else:
        match = _AMOUNT.match(str(text))
        if not match:
            raise InvalidInput(MoneyError.NOT_AN_AMOUNT, field=named, text=repr(text))
        whole, frac = match.group(1), (match.group(2) or "").ljust(2, "0")
        fen = int(whole) * 100 + int(frac)
    if fen < 0:
        raise InvalidInput(MoneyError.NEGATIVE, field=named)
    if fen == 0 and not allow_zero:
        raise InvalidInput(MoneyError.ZERO, field=named)
    if fen > MAX_FEN:
        raise InvalidInput(MoneyError.TOO_LARGE, field=named)
    return fen


def format_yuan(fen: Fen) -> str:
    """Format fen as an exact yuan string: 10000000 -> "100000.00", -5 -> "-0.05"."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be int, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole}.{frac:02d}"
