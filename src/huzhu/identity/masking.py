"""Masking of personal data for display (names, ID numbers, phones, bank accounts, e-mail).

Masked values may be shown to the member themself and to staff; the public never sees even these
(public cases show only the masked name, see design section 5).
"""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")


def mask_name(name: str) -> str:
    """Keep the first character, one '*' per other non-space character: 彭静 -> 彭*, 周四喜 -> 周**.

    A one-character name is fully masked ("*"), since keeping it would reveal it.
    """
    chars = _WHITESPACE.sub("", name or "")
    if not chars:
        return ""
    if len(chars) == 1:
        return "*"
    return chars[0] + "*" * (len(chars) - 1)


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask_id_number(number: str) -> str:
    """Keep the first 4 and last 4 characters: 450321199001011234 -> 4503**********1234."""
    return _keep_ends(_WHITESPACE.sub("", number or "").upper(), 4, 4)


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits: 13812345678 -> 138****5678 (a +86 prefix is kept as is)."""
    compact = re.sub(r"[\s-]+", "", phone or "")
    prefix = ""
    if compact.startswith("+86"):
        prefix, compact = "+86 ", compact[3:]
    return prefix + _keep_ends(compact, 3, 4)


def mask_bank_account(account: str) -> str:
    """Keep only the last 4 digits, in a fixed shape that hides the length: **** **** **** 1234."""
    compact = re.sub(r"[\s-]+", "", account or "")
    if len(compact) <= 4:
        return "**** **** **** ****"
    return "**** **** **** " + compact[-4:]


def mask_email(email: str) -> str:
    """Keep the first character of the local part and the domain: ab@x.com -> a*@x.com."""
    email = (email or "").strip()
    local, at, domain = email.rpartition("@")
    if not at:
        return mask_name(email)
    if len(local) <= 1:
        return "*" + at + domain
    return local[0] + "*" * (len(local) - 1) + at + domain


# A run of 11 or more digits, spaces or hyphens allowed between them, an ID number's X at the end:
# a phone number (11), a resident ID (15 or 18) or a bank account (12–19). Dates, amounts and case
# numbers are shorter runs and stay as written.
_LONG_NUMBER = re.compile(r"(?<![0-9])\d(?:[ \-]?\d){9,}(?:[ \-]?[\dXx])(?![0-9])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact_identifiers(text: str) -> str:
    """Free text about to be published (an objection's reason, a reviewer's note, an investigation
    summary) with phone, ID and bank account numbers and e-mail addresses starred out: people
    write them into such fields, and the public record is permanent."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text or "")
    return _LONG_NUMBER.sub(lambda m: re.sub(r"[\dXx]", "*", m.group(0)), text)
