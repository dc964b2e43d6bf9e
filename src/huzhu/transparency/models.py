"""The public record: an append-only, hash-linked log whose leaves form an RFC 6962 Merkle tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime


class PublicRecord(Base):
    __tablename__ = "public_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The record's leaf index in the Merkle tree: gapless from 0, taken when the record is appended
    # (``numbering``), never from the row id.
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # case_noticed, case_shared, run, payout, ...
    subject: Mapped[str] = mapped_column(String(40), index=True)  # e.g. case number
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, no personal data
    leaf_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))  # hash chain: leaf hash of the previous record
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LogTile(Base):
    """One tlog-tiles hash tile of the public log's Merkle tree (C2SP tlog-tiles §Merkle Tree).

    Row (level, tile_index) holds up to 256 concatenated 32-byte hashes: level 0 the leaf hashes,
    level L+1 the roots of full level-L tiles. Only the rightmost tile of each level grows (by the
    step that signs a checkpoint); a full tile is never changed. Proofs read a handful of rows, never
    every leaf.
    """

    __tablename__ = "log_tiles"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint as a signed note) of the public log."""

    __tablename__ = "log_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)  # the signed note exactly as the log signed it
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LogCosignature(Base):
    """A witness's cosignature line (C2SP tlog-cosignature) on one checkpoint."""

    __tablename__ = "log_cosignatures"
    __table_args__ = (UniqueConstraint("tree_size", "witness"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, ForeignKey("log_checkpoints.tree_size"), index=True)
    witness: Mapped[str] = mapped_column(String(200))
    line: Mapped[str] = mapped_column(Text)  # "— <name> <base64>" as the witness sent it
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
