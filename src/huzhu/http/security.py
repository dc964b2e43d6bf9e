"""Signed expiring tokens (stdlib HMAC-SHA256), CSRF double-submit helpers and the session cookie.

A token is ``<payload>.<signature>``, both base64url without padding; the payload is
``{"sub": account_id, "exp": unix_seconds}``. Nothing secret is inside the token: it only proves
that the server issued it for that account and that it has not expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta

from starlette.responses import Response

from huzhu.config import Settings

SESSION_COOKIE = "huzhu_session"
CSRF_COOKIE = "huzhu_csrf"
CSRF_HEADER = "X-CSRF-Token"
DEFAULT_TTL = timedelta(hours=12)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), b"huzhu-token-v1." + payload.encode("ascii"), hashlib.sha256)
    return _b64(digest.digest())


def issue_token(account_id: int, *, secret: str, now: datetime, ttl: timedelta = DEFAULT_TTL) -> str:
    """A bearer/session token for ``account_id`` valid until ``now + ttl``."""
    expires = int((now + ttl).timestamp())
    payload = _b64(json.dumps({"sub": int(account_id), "exp": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_sign(payload, secret)}"


def read_token(token: str, *, secret: str, now: datetime) -> int | None:
    """The account id in a valid, unexpired token; ``None`` for anything else (never raises)."""
    try:
        payload, signature = (token or "").strip().split(".")
        if not hmac.compare_digest(signature, _sign(payload, secret)):
            return None
        claims = json.loads(_unb64(payload))
        account_id, expires = claims["sub"], claims["exp"]
        if not isinstance(account_id, int) or not isinstance(expires, int):
            return None
        if now.timestamp() >= expires:
            return None
        return account_id
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie_value: str | None, submitted: str | None) -> bool:
    """Double-submit check: the form/header value equals the CSRF cookie (constant time)."""
    if not cookie_value or not submitted:
        return False
    return hmac.compare_digest(cookie_value.encode("utf-8"), submitted.encode("utf-8"))


def set_session_cookie(response: Response, token: str, settings: Settings, *, max_age: int | None = None) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age if max_age is not None else int(DEFAULT_TTL.total_seconds()),
        httponly=True, samesite="lax", secure=settings.secure_cookies, path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies)


def set_csrf_cookie(response: Response, token: str, settings: Settings) -> None:
    """Readable by page scripts on purpose (double-submit); SameSite=Lax."""
    response.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="lax", secure=settings.secure_cookies, path="/")
