"""Messages by code: what the engine tells people, as a stable code with its values kept apart.

Each domain declares its messages as members of a ``MessageCode`` enum (errors as ``ErrorCode``, in
``huzhu.errors``): the member's value is the stable code (the API's ``code``, the catalogs'
``msgctxt``) and it holds its English template with ``%(name)s`` placeholders::

    class ClaimError(ErrorCode):
        BEFORE_IN_FORCE = ("claims.before_in_force",
                           "the incident on %(incident)s is before %(benefit)s came into force on %(in_force)s")

The values filled in stay typed until someone reads them, so each reader can show them in their
language: the API's English ``detail`` (``english``), its JSON ``params`` (``plain``) and the pages
(``huzhu.web.words``). Values that are themselves words are one of:

* a ``StrEnum`` member (a claim's status, a role): the pages show its label from the catalogs;
* a ``Name`` (a plan's or a benefit's name, bilingual in the plan files);
* a ``Message`` (a message inside another, e.g. each reason someone cannot join);
* a list or tuple of these (``OneOf`` reads "a or b").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum, StrEnum
from typing import Any, Self

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def placeholders(template: str) -> frozenset[str]:
    """The ``%(name)s`` names a template uses."""
    return frozenset(PLACEHOLDER.findall(template))


class MessageCode(StrEnum):
    """A stable code (the member's value) with its English template (``template``).

    Subclass it per domain with members written as ``NAME = ("domain.stable_code", "English %(value)s")``;
    codes are unique across every subclass (a test checks) and never change once published.
    """

    _value_: str
    template: str

    def __new__(cls, code: str, template: str) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.template = template
        return member

    @classmethod
    def named(cls, value: str | None) -> Self | None:
        """The member whose code is ``value``, if this enum has one."""
        return next((member for member in cls if member.value == value), None)

    @property
    def names(self) -> frozenset[str]:
        return placeholders(self.template)

    def check(self, params: Mapping[str, object]) -> None:
        """Refuse values that do not fill the template exactly (a misspelt or missing name)."""
        if set(params) != self.names:
            raise TypeError(f"{type(self).__name__}.{self.name} takes {sorted(self.names)}, given {sorted(params)}")

    def english(self, params: Mapping[str, object]) -> str:
        return self.template % {k: english(v) for k, v in params.items()}


def all_codes() -> Iterator[MessageCode]:
    """Every member of every ``MessageCode`` enum defined so far (import the modules first)."""
    pending: list[type[MessageCode]] = [MessageCode]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        yield from cls


def code_named(value: str) -> MessageCode | None:
    """The code with this value, in whichever enum declares it."""
    return next((code for code in all_codes() if code.value == value), None)


@dataclass(frozen=True)
class Name:
    """Words the data itself has in both languages (a plan's or a benefit's name): pages show ``zh``
    or ``en``; the API's params carry ``code``; the English sentence reads ``en``, or ``code`` when
    ``by_code`` (plans: the code is what API clients send and read everywhere else)."""

    code: str
    en: str
    zh: str
    by_code: bool = False

    def __str__(self) -> str:
        return self.code if self.by_code else self.en


@dataclass(frozen=True)
class Message:
    """A message inside another one (one of several reasons)."""

    code: MessageCode
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.code.check(self.params)

    def __str__(self) -> str:
        return self.code.english(self.params)


class OneOf(tuple[Any, ...]):
    """Alternatives: "a or b" (a plain list or tuple reads "a, b")."""

    __slots__ = ()


def english(value: object) -> str:
    """A value as the English sentence (the API's ``detail``) shows it."""
    if isinstance(value, OneOf):
        words = [english(v) for v in value]
        return " or ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " or " + words[-1]
    if isinstance(value, list | tuple):
        separator = "; " if value and all(isinstance(v, Message) for v in value) else ", "
        return separator.join(english(v) for v in value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def plain(value: object) -> Any:
    """A value as JSON (the API's ``params``): enum values, codes of names, nested messages."""
    if isinstance(value, Message):
        return {"code": value.code.value, "params": {k: plain(v) for k, v in value.params.items()}}
    if isinstance(value, Name):
        return value.code
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
