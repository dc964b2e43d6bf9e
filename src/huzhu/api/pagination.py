"""Cursor pagination: an opaque cursor (the last row's key), a bounded ``limit``, ``next_cursor``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import Session

from huzhu.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="pass as `cursor` to get the next page; null on the last page", examples=[None]
    )


class PageParams(BaseModel):
    cursor: str | None
    limit: int


def page_params(
    cursor: Annotated[str | None, Query(max_length=200, description="opaque cursor from `next_cursor`")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k1:{key}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        prefix, _, value = raw.partition(":")
        if prefix != "k1" or not value.isdigit() or len(value) > 19:
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidInput("cursor is not valid; use the next_cursor value of a previous page") from exc


def page_of(
    session: Session, query: Select[Any], key_column: Any, params: PageParams, key: Callable[[Any], int],
    *, descending: bool = True, scalars: bool = True,
) -> tuple[list[Any], str | None]:
    after = decode_cursor(params.cursor)
    if after is not None:
        query = query.where(key_column < after if descending else key_column > after)
    query = query.order_by(key_column.desc() if descending else key_column.asc()).limit(params.limit + 1)
    rows = list(session.scalars(query) if scalars else session.execute(query))
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    return rows, encode_cursor(key(rows[-1])) if more and rows else None
