"""Security headers on every response, set in one place.

- **Content-Security-Policy**: scripts and styles only from the app's own files (no inline script
  anywhere: HTMX is configured by a ``<meta>`` tag, the API docs start from a static file), no
  plugins, no framing, forms post to the app only. The API docs page alone may carry inline
  *styles*, which Swagger UI sets on its elements; its scripts are still the app's own files.
- **Strict-Transport-Security** in production (browsers then refuse plain HTTP to the site).
- **Cache-Control: no-store** on every API response that does not set its own: the API answers
  with personal data (balances, claims, names), which no shared or browser cache may keep. Pages
  set it themselves (``web.core.finish``); static files stay cacheable.
- ``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy``, ``Cross-Origin-Opener-Policy``
  and ``Permissions-Policy`` for the rest.

uvicorn is started without its ``server`` header (``huzhu.app.server_options``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
HSTS = "max-age=63072000; includeSubDomains"
DOCS_PATHS = ("/docs",)

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to each response (a header the app set wins)."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    def headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        policy = DOCS_CSP if path.startswith(DOCS_PATHS) else CSP
        added = [*_ALWAYS, (b"content-security-policy", policy.encode())]
        if self.production:
            added.append((b"strict-transport-security", HSTS.encode()))
        if path.startswith("/api/"):
            added.append((b"cache-control", b"no-store"))
        return added

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
