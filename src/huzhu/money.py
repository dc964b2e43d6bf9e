"""Money is integer fen (分) inside and an exact decimal string ("100000.00") at the edges.

Floats never touch an amount: parsing goes through ``Decimal`` from the string form and refuses
anything that is not a whole number of fen.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from huzhu.errors import InvalidInput

Fen = int

_AMOUNT = re.compile(r"^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$", re.ASCII)  # ASCII: no full-width digits
MAX_FEN = 10**15  # 10 trillion yuan: far above any real amount, far below int64 overflow


def parse_yuan(text: str | int | Decimal, *, field: str = "amount", allow_zero: bool = False) -> Fen:
    """Parse "123.45" (yuan, at most two decimals) into fen; refuse floats, sub-fen and negatives."""
    if isinstance(text, bool) or isinstance(text, float):
        raise InvalidInput(f"{field}: give the amount as a decimal string like \"123.45\", not a float")
    if isinstance(text, int):
        fen = text * 100
    elif isinstance(text, Decimal):
        try:
            quantized = text.quantize(Decimal("0.01"))
        except InvalidOperation as exc:
            raise InvalidInput(f"{field}: {text!r} is not a valid amount") from exc
        if quantized != text:
            raise InvalidInput(f"{field}: {text} has more than two decimal places (smaller than one fen)")
        fen = int(quantized * 100)
    else:
        match = _AMOUNT.match(str(text))
        if not match:
            raise InvalidInput(
                f"{field}: {text!r} is not an amount in yuan with at most two decimals, e.g. \"100000.00\""
            )
        whole, frac = match.group(1), (match.group(2) or "").ljust(2, "0")
        fen = int(whole) * 100 + int(frac)
    if fen < 0:
        raise InvalidInput(f"{field}: amount must not be negative")
    if fen == 0 and not allow_zero:
        raise InvalidInput(f"{field}: amount must be greater than zero")
    if fen > MAX_FEN:
        raise InvalidInput(f"{field}: amount is too large")
    return fen


def format_yuan(fen: Fen) -> str:
    """Format fen as an exact yuan string: 10000000 -> "100000.00", -5 -> "-0.05"."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be int, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole}.{frac:02d}"
