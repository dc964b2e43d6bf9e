"""The step-up challenge a login needs after failures: a proof of work (pure, no database).

After ``FREE_FAILURES`` wrong passwords for one login, every further attempt for that login —
from anywhere — must carry a solved challenge: a nonce ``s`` such that SHA-256 of
``"<challenge>:<s>"`` starts with ``bits`` zero bits. Each further failure adds a bit (the
expected work doubles), up to ``MAX_BITS``: about a million hashes, a second or two in a phone's
browser, never impossible. So a guesser pays more with every guess, and the owner, who knows the
password, pays once and logs in: no one can lock anyone out.

A challenge is issued by the server and signed (HMAC, the server's key): it names the login (a
digest, not the login itself), its difficulty, a random id and its expiry (``TTL``). The server
keeps no state for it until it is used; a used challenge's id is recorded so it works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

FREE_FAILURES = 5
BASE_BITS = 16
MAX_BITS = 20
TTL = timedelta(minutes=10)
ALGORITHM = "sha256-leading-zero-bits"
MAX_SOLUTION_LENGTH = 64


def required_bits(failures: int) -> int:
    """The difficulty a login needs after ``failures`` failed attempts (0: none)."""
    if failures < FREE_FAILURES:
        return 0
    return min(BASE_BITS + failures - FREE_FAILURES, MAX_BITS)


def login_digest(login_key: str) -> str:
    return hashlib.sha256(login_key.encode("utf-8")).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: str) -> str:
    return _b64(hmac.new(key.encode("utf-8"), b"huzhu-login-challenge-v1." + payload.encode("ascii"),
                         hashlib.sha256).digest())


@dataclass(frozen=True)
class Challenge:
    token: str
    challenge_id: str
    bits: int
    expires_at: datetime

    def as_details(self) -> dict[str, object]:
        """What a client needs to solve it (the problem document's ``details``)."""
        return {"challenge": self.token, "difficulty": self.bits, "algorithm": ALGORITHM,
                "expires_at": self.expires_at.isoformat()}


def issue(key: str, *, login_key: str, bits: int, now: datetime) -> Challenge:
    challenge_id = _b64(secrets.token_bytes(16))
    expires = now + TTL
    payload = _b64(json.dumps({"l": login_digest(login_key), "b": bits, "i": challenge_id,
                               "e": int(expires.timestamp())}, separators=(",", ":")).encode())
    return Challenge(token=f"{payload}.{_mac(key, payload)}", challenge_id=challenge_id, bits=bits, expires_at=expires)


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def solves(token: str, solution: str, bits: int) -> bool:
    if not solution or len(solution) > MAX_SOLUTION_LENGTH or not solution.isascii():
        return False
    return leading_zero_bits(hashlib.sha256(f"{token}:{solution}".encode("ascii")).digest()) >= bits


def verified_id(key: str, token: str | None, solution: str | None, *, login_key: str, bits: int,
                now: datetime) -> str | None:
    """The id of a challenge that is genuine, for this login, unexpired, at least ``bits`` hard and
    solved; ``None`` otherwise (never raises). Whether it was used before is the caller's check."""
    try:
        payload, signature = (token or "").split(".")
        if not hmac.compare_digest(signature, _mac(key, payload)):
            return None
        claims = json.loads(_unb64(payload))
        if claims["l"] != login_digest(login_key) or int(claims["b"]) < bits or now.timestamp() >= claims["e"]:
            return None
        if not solves(token or "", solution or "", int(claims["b"])):
            return None
        return str(claims["i"])
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None


def solve(token: str, bits: int) -> str:
    """Find a solution (what a client does; the tests and the CLI use it)."""
    counter = 0
    while not solves(token, str(counter), bits):
        counter += 1
    return str(counter)
