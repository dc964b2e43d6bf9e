"""Domain errors. Each carries the HTTP status and a stable problem type, rendered by one handler."""

from __future__ import annotations


class DomainError(Exception):
    """Base error: a clear human message, an HTTP status and a stable RFC 9457 ``type`` slug."""

    status_code = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
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
