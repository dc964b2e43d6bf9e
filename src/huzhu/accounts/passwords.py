"""Password hashing with Argon2id (argon2-cffi) at OWASP's recommended baseline: 19 MiB, 2 passes,
1 lane (Password Storage Cheat Sheet). argon2-cffi's own default (64 MiB, 3 passes, 4 lanes) costs
~10× more CPU per login; on a 2-core server that alone capped a launch surge at a few sign-ups per
second. Hashes record their parameters, so raising them later rehashes on the next login."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from huzhu.accounts.errors import AccountError
from huzhu.errors import InvalidInput

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A valid hash to verify against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-same-cost")

MIN_LENGTH, MAX_LENGTH = 8, 128
# The mix rule as one pattern, the same text in the API schema and here: something that is not an
# ASCII digit and something that is not an ASCII letter (a symbol, or a letter and a digit), and
# no control characters. Written without look-ahead so every regex dialect reads it alike.
_CHAR = r"[^\x00-\x1f\x7f-\x9f]"
_NOT_ALNUM = r"[^\x00-\x1f\x7f-\x9f0-9A-Za-z]"
PASSWORD_PATTERN = (rf"^(?:{_CHAR}*{_NOT_ALNUM}{_CHAR}*|{_CHAR}*[A-Za-z]{_CHAR}*[0-9]{_CHAR}*"
                    rf"|{_CHAR}*[0-9]{_CHAR}*[A-Za-z]{_CHAR}*)$")
_PASSWORD = re.compile(PASSWORD_PATTERN)


def check_password_strength(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(AccountError.PASSWORD_LENGTH, min=MIN_LENGTH, max=MAX_LENGTH)
    if not _PASSWORD.fullmatch(password):
        raise InvalidInput(AccountError.PASSWORD_MIX)


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def rehash_if_outdated(password_hash: str, password: str) -> str | None:
    """A new hash when the stored one used weaker parameters than today's (call after a good login)."""
    try:
        return _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None
    except InvalidHashError:
        return None
