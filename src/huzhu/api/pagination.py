"""Keyset pagination: the cursor is the last row's key (a number), ``limit`` is bounded, and each page
says its ``next_cursor``. Every cursor the schema admits is a valid one: a key past the end gives an
empty page, never an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import Session

from huzhu.errors import ErrorCode, InvalidInput

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
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page",
                                        examples=["120"])] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]


class ApiError(ErrorCode):
    CURSOR = ("api.cursor", "cursor must be the next_cursor value of a previous page")


def encode_cursor(key: int) -> str:
    return str(key)


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidInput(ApiError.CURSOR)
    return int(cursor)


def page_of(
    session: Session, query: Select[*tuple[Any, ...]], key_column: Any, params: PageParams, key: Callable[[Any], int],
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
