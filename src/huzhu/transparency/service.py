"""Append-only public record: canonical JSON leaves in an RFC 9162 Merkle tree whose heads are signed
checkpoints (see :mod:`huzhu.transparency.log`).

Anyone holding an exported copy can recompute every leaf hash and the tree head and compare it with
a signed checkpoint, and verify an inclusion proof of any record, so a rewritten or dropped record is
detectable. ``prev_hash`` is a readable pointer only; it is not in the hashed bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.errors import NotFound
from huzhu.numbering import next_number
from huzhu.transparency.errors import LogError
from huzhu.transparency.log import (
    APPENDED_INFO_KEY,
    SIGNER_INFO_KEY,
    DbTileReader,
    checkpoint_with_cosignatures,
    served_checkpoint,
    verify_log,
)
from huzhu.transparency.merkle import EMPTY_ROOT, leaf_hash
from huzhu.transparency.models import PublicRecord
from huzhu_verify.note import Ed25519Signer, Verifier
from huzhu_verify.tiles import TileHashReader

GENESIS = "0" * 64


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def append_record(session: Session, *, kind: str, subject: str, payload: dict[str, Any], now: datetime) -> PublicRecord:
    """Append one public record. Records must never hold names, ID numbers, phones or bank accounts."""
    # The leaf index is taken first: its row lock makes appenders take turns, so the chain is linear.
    leaf_index = next_number(session, "public_record") - 1
    previous = session.scalar(select(PublicRecord.leaf_hash).order_by(PublicRecord.leaf_index.desc()).limit(1))
    body = canonical_json({"kind": kind, "subject": subject, "recorded_at": now.isoformat(), **payload})
    record = PublicRecord(
        leaf_index=leaf_index, kind=kind, subject=subject, payload=body, leaf_hash=leaf_hash(body.encode("utf-8")).hex(),
        prev_hash=previous or GENESIS, recorded_at=now,
    )
    session.add(record)
    session.flush()
    session.info[APPENDED_INFO_KEY] = now  # a checkpoint is signed when this transaction commits
    return record


def tree_head(session: Session) -> dict[str, Any]:
    """The latest signed checkpoint's size and root (RFC 9162 tree head), with the signed note."""
    row = served_checkpoint(session)
    if row is None:
        return {"tree_size": 0, "root_hash": EMPTY_ROOT.hex(), "checkpoint": None}
    return {"tree_size": row.tree_size, "root_hash": row.root_hash,
            "checkpoint": checkpoint_with_cosignatures(session, row)}


def record_proof(session: Session, record_id: int) -> dict[str, Any]:
    """An RFC 9162 inclusion proof of one record in the latest signed checkpoint, read from the tiles."""
    index = session.scalar(select(PublicRecord.leaf_index).where(PublicRecord.id == record_id))
    if index is None:
        raise NotFound(LogError.NO_SUCH_RECORD, record=record_id)
    row = served_checkpoint(session)
    if row is None or index >= row.tree_size:
        raise NotFound(LogError.RECORD_NOT_SIGNED, record=record_id)
    reader = TileHashReader(DbTileReader(session), row.tree_size)
    return {
        "record_id": record_id,
        "leaf_index": index,
        "tree_size": row.tree_size,
        "leaf_hash": reader.leaf_hash(index).hex(),
        "root_hash": row.root_hash,
        "proof": [h.hex() for h in reader.inclusion_proof(index)],
        "checkpoint": checkpoint_with_cosignatures(session, row),
    }


def log_verifier(session: Session) -> Verifier | None:
    signer = session.info.get(SIGNER_INFO_KEY)
    return signer.verifier if isinstance(signer, Ed25519Signer) else None


def verify_chain(session: Session, verifier: Verifier | None = None) -> list[str]:
    """Recompute every leaf hash and compare the tree with every signed checkpoint (and the old
    pointer chain); returns the problems found (empty = intact). ``verifier`` defaults to the log key
    the session carries."""
    problems = []
    previous = GENESIS
    for record in session.scalars(select(PublicRecord).order_by(PublicRecord.leaf_index)).yield_per(5000):
        if record.prev_hash != previous:
            problems.append(f"public record {record.id}: chain link broken")
        previous = record.leaf_hash
    return problems + verify_log(session, verifier or log_verifier(session))
