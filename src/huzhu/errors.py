"""Domain errors. Each carries the HTTP status and a stable problem type, rendered by one handler."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Base error: a clear human message, an HTTP status and a stable RFC 9457 ``type`` slug."""

    status_code = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, message: str, *, params: Mapping[str, object] | None = None, **details: object) -> None:
        # ``message`` may be a template with %(name)s placeholders filled from ``params``: the API
        # gets the English text, the pages translate the template and fill it in their language.
        self.template = message
        self.params = dict(params or {})
        self.message = message % self.params if self.params else message
        super().__init__(self.message)
        self.details = details


class InvalidInput(DomainError):
    status_code = 422
    type_slug = "invalid-input"
    title = "Invalid input"


class NotFound(DomainError):
    status_code = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status_code = 409
    type_slug = "conflict"
    title = "Conflict"


class Forbidden(DomainError):
    status_code = 403
    type_slug = "forbidden"
    title = "Forbidden"


class NotEligible(DomainError):
    status_code = 422
    type_slug = "not-eligible"
    title = "Not eligible"


class InvalidTransition(Conflict):
    type_slug = "invalid-transition"
    title = "Action not allowed in the current state"


class InsufficientFunds(Conflict):
    type_slug = "insufficient-funds"
    title = "Insufficient funds"


class IdempotencyConflict(Conflict):
    type_slug = "idempotency-conflict"
    title = "Idempotency key reused with different content"
