"""The HTTP layer both adapters share: signed session tokens and CSRF, request dependencies (the
platform, the request's unit of work, the business clock, the signed-in account), logging in,
RFC 9457 problem rendering, the request gates, the public read cache, JSON logs and
``Idempotency-Key`` replays. It imports neither adapter; the API and the pages import it."""
