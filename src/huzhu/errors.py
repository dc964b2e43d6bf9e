"""Domain errors. Each carries a stable code with its values, the HTTP status and a stable problem
type, rendered by one handler (the API) and by the pages in the reader's language.

A domain declares its codes once, each with its English template (``huzhu.messages``)::

    class ClaimError(ErrorCode):
        BENEFICIARY_ACCOUNT = ("claims.beneficiary_account", "beneficiary bank account must be 12 to 19 digits")
        BEFORE_IN_FORCE = ("claims.before_in_force",
                           "the incident on %(incident)s is before %(benefit)s came into force on %(in_force)s")

and raises them with their values as keywords (exactly the template's names)::

    raise InvalidInput(ClaimError.BENEFICIARY_ACCOUNT)
    raise NotEligible(ClaimError.BEFORE_IN_FORCE, incident=day, benefit=benefit.title, in_force=start)

``details=`` adds machine-readable extras to the API's problem document. The API answers the code,
the values and the English sentence; the pages look the code up in the catalogs
(``msgctxt`` = code, ``msgid`` = the English template) and fill in the values in their language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, overload

from huzhu.messages import MessageCode


class ErrorCode(MessageCode):
    """A domain's error codes (subclass per domain; see the module docstring)."""


class CommonError(ErrorCode):
    """Generic codes, one per kind of error: what an error raised with a bare English sentence
    (the old form, with no code given to it) answers as its
    code, and what a Chinese page shows for it. The English sentence stays the API's ``detail``."""

    BAD_REQUEST = ("common.bad_request", "the request could not be carried out")
    INVALID_INPUT = ("common.invalid_input", "some of the values given are not valid")
    NOT_FOUND = ("common.not_found", "what was asked for does not exist")
    CONFLICT = ("common.conflict", "this is not possible in the current state; reload and try again")
    FORBIDDEN = ("common.forbidden", "this account may not do this")
    NOT_ELIGIBLE = ("common.not_eligible", "the rules do not allow this")
    INVALID_TRANSITION = ("common.invalid_transition", "this action is not possible in the current state")
    INSUFFICIENT_FUNDS = ("common.insufficient_funds", "the available balance is not enough for this")
    IDEMPOTENCY_CONFLICT = ("common.idempotency_conflict",
                            "this request was already made with different content; reload the page and try again")


class DomainError(Exception):
    """Base error: a stable code with its values, an HTTP status and a stable RFC 9457 ``type`` slug.

    ``code``: the ``ErrorCode``; ``params``: its values; ``message``: the English sentence (also
    ``str(error)``); ``template``: the English template; ``details``: extras for the API;
    ``coded``: False when raised the old way, with an English sentence instead of a code.
    """

    status_code = 400
    type_slug = "bad-request"
    title = "Bad request"
    generic: ClassVar[ErrorCode] = CommonError.BAD_REQUEST

    code: ErrorCode
    params: dict[str, object]
    template: str
    message: str
    details: dict[str, object]
    coded: bool

    @overload
    def __init__(self, code: ErrorCode, /, *, details: Mapping[str, object] | None = None,
                 **params: object) -> None: ...

    @overload
    def __init__(self, message: str, /, *, params: Mapping[str, object] | None = None,
                 **details: object) -> None: ...

    def __init__(self, code: ErrorCode | str, /, **values: object) -> None:
        if isinstance(code, ErrorCode):
            extras = values.pop("details", None)
            code.check(values)
            self.code, self.coded, self.template, self.params = code, True, code.template, dict(values)
            self.message = code.english(self.params)
            self.details = dict(extras) if isinstance(extras, Mapping) else {}
        else:
            # The old form, kept for code not yet given codes: an English sentence (a template with
            # %(name)s when ``params`` is given) and any other keywords as details.
            given = values.pop("params", None)
            self.code, self.coded, self.template = type(self).generic, False, code
            self.params = dict(given) if isinstance(given, Mapping) else {}
            self.message = code % self.params if self.params else code
            self.details = values
        super().__init__(self.message)


class InvalidInput(DomainError):
    status_code = 422
    type_slug = "invalid-input"
    title = "Invalid input"
    generic = CommonError.INVALID_INPUT


class NotFound(DomainError):
    status_code = 404
    type_slug = "not-found"
    title = "Not found"
    generic = CommonError.NOT_FOUND


class Conflict(DomainError):
    status_code = 409
    type_slug = "conflict"
    title = "Conflict"
    generic = CommonError.CONFLICT


class Forbidden(DomainError):
    status_code = 403
    type_slug = "forbidden"
    title = "Forbidden"
    generic = CommonError.FORBIDDEN


class NotEligible(DomainError):
    status_code = 422
    type_slug = "not-eligible"
    title = "Not eligible"
    generic = CommonError.NOT_ELIGIBLE


class InvalidTransition(Conflict):
    type_slug = "invalid-transition"
    title = "Action not allowed in the current state"
    generic = CommonError.INVALID_TRANSITION


class InsufficientFunds(Conflict):
    type_slug = "insufficient-funds"
    title = "Insufficient funds"
    generic = CommonError.INSUFFICIENT_FUNDS


class IdempotencyConflict(Conflict):
    type_slug = "idempotency-conflict"
    title = "Idempotency key reused with different content"
    generic = CommonError.IDEMPOTENCY_CONFLICT
