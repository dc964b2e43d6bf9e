"""``Idempotency-Key`` on money-moving requests: the first response is stored with a hash of the
request in the same transaction as the money movement; a replay returns it, the same key with a
different request is refused (409), and a key is scoped to the account that sent it."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from huzhu.accounts.models import Account
from huzhu.errors import ErrorCode, IdempotencyConflict
from huzhu.http.models import IdempotencyRecord

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:\-]+$",
        description="a unique key per intended operation (e.g. a UUID); a retry with the same key and "
                    "body returns the first response instead of moving money twice",
        examples=["5f1c3a4e-2d0b-4b7e-9a61-0c2f3c9b7d11"],
    ),
]


class HttpError(ErrorCode):
    KEY_REUSED = ("http.idempotency_key_reused",
                  "Idempotency-Key %(key)s was already used for a different request (%(method)s %(path)s); "
                  "use a new key for a new operation")


def request_hash(request: Request, body: BaseModel | dict[str, Any] | None) -> str:
    content = body.model_dump(mode="json") if isinstance(body, BaseModel) else (body or {})
    text = json.dumps([request.method, request.url.path, content], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def engine_key(account: Account, key: str | None, purpose: str) -> str:
    """The idempotency key handed to the ledger (unique per account and client key)."""
    if key is None:
        return f"api:{purpose}:{uuid.uuid4().hex}"
    return f"api:{account.id}:{purpose}:{key}"


def run_idempotent(
    session: Session, request: Request, *, account: Account, key: str | None, body: BaseModel | dict[str, Any] | None,
    now: datetime, status_code: int, action: Callable[[], Any], before_action: Callable[[], None] | None = None,
) -> Any:
    """Replay a stored response for ``key``, or run ``action`` and store its JSON response."""
    if key is None:
        if before_action:
            before_action()
        return action()
    digest = request_hash(request, body)
    stored = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.account_id == account.id, IdempotencyRecord.key == key)
    )
    if stored is not None:
        if stored.request_hash != digest:
            raise IdempotencyConflict(HttpError.KEY_REUSED, key=repr(key), method=stored.method, path=stored.path)
        return JSONResponse(json.loads(stored.response_body), status_code=stored.status_code,
                            headers={"Idempotent-Replayed": "true"})
    if before_action:
        before_action()
    result = action()
    payload = jsonable_encoder(result)
    session.add(IdempotencyRecord(
        account_id=account.id, key=key, method=request.method, path=request.url.path[:300], request_hash=digest,
        status_code=status_code, response_body=json.dumps(payload, ensure_ascii=False), created_at=now,
    ))
    session.flush()
    return result
