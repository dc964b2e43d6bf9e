"""``Idempotency-Key`` on money-moving requests: required (422 without it, 400 when sent twice); the
first response is stored with a hash of the request in the same transaction as the money movement;
a replay returns it, the same key with a different request is refused (409), and a key is scoped
to the account that sent it.

Stored responses are kept ``HUZHU_IDEMPOTENCY_RETENTION_DAYS`` days (30 by default) and then
purged (``huzhu maintenance purge``). After that a retry runs the request again — and still moves
no money twice: the key also names the ledger transfer, and the ledger keeps transfer keys forever
(a replayed transfer returns the first one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from huzhu.accounts.models import Account
from huzhu.db import affected_rows
from huzhu.errors import DomainError, ErrorCode, IdempotencyConflict
from huzhu.failpoints import failpoint
from huzhu.http.models import IdempotencyRecord

IdempotencyKeyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:\-]+$",
        description="required on every request that moves money: a unique key per intended operation (e.g. a "
                    "UUID), sent once; a retry with the same key and body returns the first response instead of "
                    "moving money twice. Kept HUZHU_IDEMPOTENCY_RETENTION_DAYS days (30 by default).",
        examples=["5f1c3a4e-2d0b-4b7e-9a61-0c2f3c9b7d11"],
    ),
]


class HttpError(ErrorCode):
    KEY_REUSED = ("http.idempotency_key_reused",
                  "Idempotency-Key %(key)s was already used for a different request (%(method)s %(path)s); "
                  "use a new key for a new operation")
    KEY_TWICE = ("http.idempotency_key_twice",
                 "send one Idempotency-Key header, not %(count)s: which one would the operation be known by?")


def idempotency_key(request: Request, key: IdempotencyKeyHeader) -> str:
    """The request's one Idempotency-Key (a second header is refused: 400)."""
    count = len(request.headers.getlist("idempotency-key"))
    if count > 1:
        raise DomainError(HttpError.KEY_TWICE, count=count)
    return key


IdempotencyKey = Annotated[str, Depends(idempotency_key)]


def purge_idempotency_records(session: Session, *, now: datetime, retention: timedelta) -> int:
    """Delete the stored responses older than ``retention``; returns how many."""
    return int(affected_rows(session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - retention)
        .execution_options(synchronize_session=False))))


def request_hash(request: Request, body: BaseModel | dict[str, Any] | None) -> str:
    content = body.model_dump(mode="json") if isinstance(body, BaseModel) else (body or {})
    text = json.dumps([request.method, request.url.path, content], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def money_request_failpoint(request: Request, place: str) -> None:
    """The failpoint ``api.<route>.<place>`` of a money-moving request (one that ran an idempotent
    action); nothing for any other request."""
    name = getattr(request.state, "money_request", None)
    if name is not None:
        failpoint(f"{name}.{place}")


def engine_key(account: Account, key: str, purpose: str) -> str:
    """The idempotency key handed to the ledger (unique per account and client key)."""
    return f"api:{account.id}:{purpose}:{key}"


def run_idempotent(
    session: Session, request: Request, *, account: Account, key: str, body: BaseModel | dict[str, Any] | None,
    now: datetime, status_code: int, action: Callable[[], Any], before_action: Callable[[], None] | None = None,
) -> Any:
    """Replay a stored response for ``key``, or run ``action`` and store its JSON response."""
    digest = request_hash(request, body)
    stored = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.account_id == account.id, IdempotencyRecord.key == key)
    )
    if stored is not None:
        if stored.request_hash != digest:
            raise IdempotencyConflict(HttpError.KEY_REUSED, key=repr(key), method=stored.method, path=stored.path)
        return JSONResponse(json.loads(stored.response_body), status_code=stored.status_code,
                            headers={"Idempotent-Replayed": "true"})
    route = request.scope.get("route")
    request.state.money_request = f"api.{getattr(route, 'name', 'request')}"
    if before_action:
        before_action()
    result = action()
    money_request_failpoint(request, "after_action")
    payload = jsonable_encoder(result)
    session.add(IdempotencyRecord(
        account_id=account.id, key=key, method=request.method, path=request.url.path[:300], request_hash=digest,
        status_code=status_code, response_body=json.dumps(payload, ensure_ascii=False), created_at=now,
    ))
    session.flush()
    return result
