"""Access tokens (stdlib HMAC-SHA256), CSRF tokens bound to the session, and the cookies.

An access token is ``<payload>.<signature>``, both base64url without padding; the payload is
``{"sub": account_id, "sid": session_id, "exp": unix_seconds}``. It lives minutes
(``accounts.sessions.ACCESS_TOKEN_TTL``), and each request also reads the session it names, so an
ended session refuses its tokens at once. Nothing secret is inside a token.

A CSRF token is an HMAC, under the server's key, of what the request is bound to: the signed-in
session (``session:<id>``), or for a visitor not signed in a random value in an HttpOnly cookie
(``anonymous:<value>``). A forged form cannot carry it: the session cookie is HttpOnly and the
token cannot be computed without the key. (Plain double-submit, the cookie's value copied into
the form, was what this replaced.)

Cookies are ``HttpOnly`` and ``SameSite=Lax``, and ``Secure`` in production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.responses import Response

from huzhu.accounts.sessions import ACCESS_TOKEN_TTL
from huzhu.config import Settings

SESSION_COOKIE = "huzhu_session"
CSRF_COOKIE = "huzhu_csrf"
CSRF_HEADER = "X-CSRF-Token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: bytes, message: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), purpose + message.encode("utf-8"), hashlib.sha256).digest())


@dataclass(frozen=True)
class AccessClaims:
    account_id: int
    session_id: int


def issue_access_token(account_id: int, session_id: int, *, secret: str, now: datetime,
                       ttl: timedelta = ACCESS_TOKEN_TTL) -> str:
    """An access token for ``account_id`` in ``session_id``, valid until ``now + ttl``."""
    expires = int((now + ttl).timestamp())
    payload = _b64(json.dumps({"sub": int(account_id), "sid": int(session_id), "exp": expires},
                              separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, b'huzhu-access-v2.', payload)}"


def read_access_token(token: str, *, secret: str, now: datetime) -> AccessClaims | None:
    """The account and session in a valid, unexpired token; ``None`` for anything else (never raises)."""
    try:
        payload, signature = (token or "").strip().split(".")
        if not hmac.compare_digest(signature, _mac(secret, b"huzhu-access-v2.", payload)):
            return None
        claims = json.loads(_unb64(payload))
        account_id, session_id, expires = claims["sub"], claims["sid"], claims["exp"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (account_id, session_id, expires)):
            return None
        if now.timestamp() >= expires:
            return None
        return AccessClaims(account_id=account_id, session_id=session_id)
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None


def new_anonymous_binding() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str, *, session_id: int | None, anonymous: str | None) -> str:
    """The CSRF token for a signed-in session, else for the visitor's anonymous binding."""
    binding = f"session:{session_id}" if session_id is not None else f"anonymous:{anonymous or ''}"
    return _mac(secret, b"huzhu-csrf-v2.", binding)


def csrf_ok(expected: str | None, submitted: str | None) -> bool:
    """The submitted token is the one this request's session (or anonymous binding) has."""
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))


def set_session_cookie(response: Response, value: str, settings: Settings, *, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=settings.secure_cookies, path="/")


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies)


def set_anonymous_cookie(response: Response, value: str, settings: Settings) -> None:
    """The visitor's anonymous CSRF binding (no script needs it: HttpOnly)."""
    response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")
