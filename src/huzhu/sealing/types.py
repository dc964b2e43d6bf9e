"""``SealedText``: a column whose values are sealed on the way in and opened on the way out.

Adopting it is one line (``name: Mapped[str] = mapped_column(SealedText())``) plus a migration that
turns the column into ``TEXT`` and seals the rows already there (``huzhu.sealing.migration``).
Every column of this type is found by the re-sealing job and by ``huzhu keys retire`` from the
metadata, so nothing else needs registering. A sealed column cannot be searched, sorted or
compared in SQL: where a lookup is needed keep a keyed digest next to it (``Keyring.digest``).
"""

from __future__ import annotations

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from huzhu.sealing.keyring import keyring_for_dialect


class SealedText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_for_dialect(dialect).seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_for_dialect(dialect).unseal(value)

    @property
    def python_type(self) -> type[str]:
        return str
