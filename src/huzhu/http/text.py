"""Text from the outside world: no control characters past the edge.

A NUL byte cannot be stored in a PostgreSQL text column, a lone surrogate cannot be encoded as
UTF-8, and other control characters only serve to hide or forge what people read. Every text a
request brings in — JSON fields, form fields, path and query parameters — is checked here before
any service sees it, and refused with a 422 naming the field:

- a **line** (names, logins, account numbers, codes, parameters) may hold no control character
  at all (C0, DEL, C1) and no surrogate;
- **free text** (descriptions, summaries, reasons, notes) may also hold newlines and tabs; a
  CRLF a browser sends from a ``<textarea>`` is read as a newline first.

The same rule is stated in the OpenAPI schema as a ``pattern`` on every request string
(``LINE_PATTERN`` / ``FREE_TEXT_PATTERN``), so clients see it before they send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from huzhu.errors import ErrorCode, InvalidInput

# The patterns as the schema states them (ECMA-262, Python and Rust regex alike).
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"
# What is refused, as Python sees it (surrogates cannot appear in the schema's regex dialects;
# pydantic refuses them in patterned fields, and ``check_text`` everywhere else).
_LINE_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FREE_TEXT_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class TextError(ErrorCode):
    CONTROL_CHARACTER = ("http.control_character",
                         "%(field)s contains a control character (%(character)s); remove it and send again")


def refused_character(value: str, *, free_text: bool = False) -> str | None:
    """The first character ``value`` may not hold, as ``U+0000``; ``None`` when it is clean."""
    found = (_FREE_TEXT_REFUSED if free_text else _LINE_REFUSED).search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def normalise_newlines(value: str) -> str:
    """CRLF and lone CR (what browsers send from a textarea) as LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def check_text(field: str, value: str, *, free_text: bool = False) -> None:
    """Refuse ``value`` (an ``InvalidInput`` naming ``field``) if it holds a character it may not."""
    character = refused_character(value, free_text=free_text)
    if character is not None:
        raise InvalidInput(TextError.CONTROL_CHARACTER, field=field, character=character)


def check_params(location: str, params: Iterable[tuple[str, str]]) -> None:
    """Path or query parameters: every name and value is a line."""
    for name, value in params:
        check_text(f"{location}.{refused_name(name)}", value)


async def refuse_control_characters(request: Request) -> None:
    """An app-wide dependency: the path and query parameters of every route are lines."""
    check_params("path", ((name, str(value)) for name, value in request.path_params.items()))
    check_params("query", request.query_params.multi_items())


def refused_name(name: str) -> str:
    """A parameter's name for an error message: a name with control characters is itself the fault."""
    return name if refused_character(name) is None else "?"


def _walk(value: Any, *, free_text: bool) -> str | None:
    """The first refused character anywhere in a JSON value (strings, keys, lists, objects)."""
    if isinstance(value, str):
        return refused_character(value, free_text=free_text)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _walk(key, free_text=False) if isinstance(key, str) else None
            found = found or _walk(item, free_text=free_text)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for item in value:
            found = _walk(item, free_text=free_text)
            if found:
                return found
    return None


class FreeTextMarker:
    """Marks a request field whose text may span lines (newlines and tabs allowed)."""


Line = Annotated[str, Field(pattern=LINE_PATTERN)]
"""A one-line request string: no control characters (stated in the schema as a pattern)."""

FreeText = Annotated[str, Field(pattern=FREE_TEXT_PATTERN), FreeTextMarker()]
"""A free-text request string: newlines and tabs allowed, no other control characters (a CRLF is
read as LF by ``RequestBody`` before the pattern is checked)."""


class RequestBody(BaseModel):
    """The base of every JSON request body: unknown fields refused, and no control character in
    any string the body holds (each field is checked before its own rules, so the 422 names it
    and says which character, whatever other rule the field has)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        free = field is not None and any(isinstance(m, FreeTextMarker) for m in field.metadata)
        if free and isinstance(value, str):
            value = normalise_newlines(value)
        found = _walk(value, free_text=free)
        if found is not None:
            raise ValueError(f"contains a control character ({found}); remove it and send again")
        return value
