"""Append-only public record: canonical JSON leaves, hash-chained and Merkle-rooted (RFC 6962).

Anyone holding an exported copy can recompute every leaf hash, the chain and the tree head, and
verify an inclusion proof of any record, so a rewritten or dropped record is detectable.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.errors import NotFound
from huzhu.numbering import next_number
from huzhu.transparency.merkle import inclusion_proof, leaf_hash, root_from_leaf_hashes
from huzhu.transparency.models import PublicRecord

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
    return record


def _leaf_hashes(session: Session, size: int | None = None) -> list[bytes]:
    query = select(PublicRecord.leaf_hash).order_by(PublicRecord.leaf_index)
    if size is not None:
        query = query.limit(size)
    return [bytes.fromhex(h) for h in session.scalars(query)]


def tree_head(session: Session) -> dict[str, Any]:
    hashes = _leaf_hashes(session)
    return {"tree_size": len(hashes), "root_hash": root_from_leaf_hashes(hashes).hex()}


def record_proof(session: Session, record_id: int) -> dict[str, Any]:
    """An RFC 9162 inclusion proof of one record in the current tree."""
    rows = session.execute(select(PublicRecord.id, PublicRecord.leaf_hash).order_by(PublicRecord.leaf_index)).all()
    index = next((i for i, row in enumerate(rows) if row.id == record_id), None)
    if index is None:
        raise NotFound(f"public record {record_id} does not exist")
    hashes = [bytes.fromhex(row.leaf_hash) for row in rows]
    return {
        "record_id": record_id,
        "leaf_index": index,
        "tree_size": len(hashes),
        "leaf_hash": hashes[index].hex(),
        "root_hash": root_from_leaf_hashes(hashes).hex(),
        "proof": [h.hex() for h in inclusion_proof(hashes, index)],
    }


def verify_chain(session: Session) -> list[str]:
    """Recompute every leaf hash and chain link; returns the problems found (empty = intact)."""
    problems = []
    previous = GENESIS
    for record in session.scalars(select(PublicRecord).order_by(PublicRecord.leaf_index)).yield_per(5000):
        if leaf_hash(record.payload.encode("utf-8")).hex() != record.leaf_hash:
            problems.append(f"public record {record.id}: content does not match its hash")
        if record.prev_hash != previous:
            problems.append(f"public record {record.id}: chain link broken")
        previous = record.leaf_hash
    return problems
