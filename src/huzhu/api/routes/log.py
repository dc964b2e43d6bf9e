"""The verifiable public log over HTTP (docs/public-log.md).

- ``/api/v1/log/…``: the latest signed checkpoint with its cosignatures, the log's key, inclusion
  proofs of leaf i in tree n, consistency proofs n1 → n2, and entries by index. A size the log has
  not signed is a 422 problem, never silently replaced by the latest one.
- ``/log/checkpoint``, ``/log/tile/…``: the same log as C2SP tlog-tiles files, read from the
  database (what ``huzhu publish DIR`` writes as static files), so ``huzhu-verify`` can replay it
  from ``http://host/log/``.
- ``/.well-known/huzhu-log-key``: the log's verifier key, one line of text.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from huzhu.http.deps import SessionDep
from huzhu.transparency import log

router = APIRouter(prefix="/log", tags=["transparency"])
files_router = APIRouter(tags=["transparency"])

MAX_SIZE = 2**62
Size = Annotated[int, Query(ge=0, le=MAX_SIZE)]


class LogCheckpointRead(BaseModel):
    origin: str
    tree_size: int
    root_hash: str = Field(description="hex of the RFC 9162 root")
    checkpoint: str = Field(description="the signed note (C2SP tlog-checkpoint) with witness cosignature lines")
    log_key: str = Field(description="the log's verifier key (C2SP signed-note key text)")


class LogKeyRead(BaseModel):
    origin: str
    log_key: str


class InclusionProofRead(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str] = Field(description="hex hashes, leaf to root (RFC 9162 §2.1.3.1)")
    proof_b64: list[str]
    checkpoint: str | None = Field(description="the signed checkpoint of tree_size, when the log signed one")
    latest: dict[str, object]


class ConsistencyProofRead(BaseModel):
    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    from_root: str
    to_root: str
    proof: list[str]
    proof_b64: list[str]
    from_checkpoint: str | None
    to_checkpoint: str | None
    latest: dict[str, object]

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class LogEntryRead(BaseModel):
    index: int
    record_id: int
    kind: str
    subject: str
    leaf_hash: str
    payload: str = Field(description="the leaf's exact bytes (canonical JSON, UTF-8)")


class LogEntriesRead(BaseModel):
    tree_size: int
    checkpoint: str
    entries: list[LogEntryRead]


def _origin(key: str) -> str:
    return key.split("+", 1)[0]


@router.get("/checkpoint", response_model=LogCheckpointRead, summary="The latest signed checkpoint")
def get_checkpoint(session: SessionDep) -> LogCheckpointRead:
    view = log.require_view(session)
    key = log.log_verifier_key(session)
    return LogCheckpointRead(origin=_origin(key), tree_size=view.tree_size, root_hash=view.root_hash,
                             checkpoint=view.checkpoint, log_key=key)


@router.get("/key", response_model=LogKeyRead, summary="The log's verifier key")
def get_key(session: SessionDep) -> LogKeyRead:
    key = log.log_verifier_key(session)
    return LogKeyRead(origin=_origin(key), log_key=key)


@router.get("/proof/inclusion", response_model=InclusionProofRead, summary="Inclusion proof of leaf index in tree_size")
def get_inclusion(session: SessionDep, index: Size, tree_size: Size | None = None) -> InclusionProofRead:
    return InclusionProofRead(**log.inclusion(session, index, tree_size))


@router.get("/proof/consistency", response_model=ConsistencyProofRead, response_model_by_alias=True,
            summary="Consistency proof from one tree size to another")
def get_consistency(session: SessionDep, from_size: Annotated[int, Query(alias="from", ge=0, le=MAX_SIZE)],
                    to_size: Annotated[int | None, Query(alias="to", ge=0, le=MAX_SIZE)] = None) -> ConsistencyProofRead:
    return ConsistencyProofRead(**log.consistency(session, from_size, to_size))


@router.get("/entries", response_model=LogEntriesRead, summary="Entries by index, inside the latest checkpoint")
def get_entries(session: SessionDep, start: Size = 0,
                limit: Annotated[int, Query(ge=1, le=256)] = 100) -> LogEntriesRead:
    rows, view = log.entries(session, start, limit)
    return LogEntriesRead(tree_size=view.tree_size, checkpoint=view.checkpoint, entries=[
        LogEntryRead(index=r.leaf_index, record_id=r.id, kind=r.kind, subject=r.subject, leaf_hash=r.leaf_hash,
                     payload=r.payload) for r in rows])


@router.get("/entries/{index}", response_model=LogEntriesRead, summary="One entry by index")
def get_entry(session: SessionDep, index: Annotated[int, Path(ge=0, le=MAX_SIZE)]) -> LogEntriesRead:
    return get_entries(session, index, 1)


NOTE_TYPE = "text/plain; charset=utf-8"


@files_router.get("/.well-known/huzhu-log-key", response_class=PlainTextResponse,
                  summary="The public log's verifier key")
def well_known_key(session: SessionDep) -> PlainTextResponse:
    return PlainTextResponse(log.log_verifier_key(session) + "\n", headers={"Cache-Control": "public, max-age=3600"})


@files_router.get("/log/checkpoint", response_class=PlainTextResponse, summary="tlog-tiles: the checkpoint")
def checkpoint_file(session: SessionDep) -> Response:
    view = log.require_view(session)
    return Response(view.checkpoint, media_type=NOTE_TYPE, headers={"Cache-Control": "no-cache"})


@files_router.get("/log/tile/{path:path}", summary="tlog-tiles: a hash tile or an entry bundle",
                  response_class=Response)
def tile(session: SessionDep, path: Annotated[str, Path(max_length=200, pattern=r"^[0-9a-z./]+$")]) -> Response:
    ref = log.tile_ref("tile/" + path)
    cache = "public, max-age=31536000, immutable" if not ref.is_partial else "public, max-age=60"
    return Response(log.tile_file(session, ref), media_type="application/octet-stream",
                    headers={"Cache-Control": cache})
