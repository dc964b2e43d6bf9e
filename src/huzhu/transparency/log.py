"""The signed public log in the database: hash tiles, signed checkpoints, proofs at any size, checks.

**Leaves.** Leaf *i* is the canonical JSON of public record *i* (``public_records.payload``, UTF-8),
hashed as RFC 9162 leaves. The old ``prev_hash`` column is not part of the leaf bytes and is not a
security mechanism: the Merkle tree already commits to every leaf and its position, and the signed
checkpoints (below) are what make a rewrite detectable. ``prev_hash`` is kept only as a readable
pointer for old exports.

**Tiles.** The tree is stored as C2SP tlog-tiles hash tiles (:class:`LogTile`): a proof reads one
tile per level it touches (a 10M-leaf tree has 3 levels), never every leaf.

**Checkpoints.** Each time a transaction that appended public records commits, the tiles are
extended with the new leaves and a C2SP tlog-checkpoint is signed with the log's Ed25519 key as a
signed note (byte-compatible with Go's ``golang.org/x/mod/sumdb/note``) and stored
(:class:`LogCheckpoint`). ``huzhu log checkpoint`` does the same for records appended by a session
without the key. A checkpoint's leaves are recomputed from the payloads before signing, so a record
whose stored hash disagrees with its content is refused, never signed.

**Checks.** :func:`verify_log` recomputes every leaf hash from the payloads and the root at every
stored checkpoint size, and compares them with the signed roots: a record edited in place (even
with its ``leaf_hash`` recomputed), dropped, or swapped changes a root the log key signed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, event, func, or_, select
from sqlalchemy.orm import Session

from huzhu.errors import Conflict, InvalidInput, NotFound
from huzhu.transparency.errors import LogError
from huzhu.transparency.models import LogCheckpoint, LogCosignature, LogTile, PublicRecord
from huzhu_verify.checkpoint import Checkpoint, open_checkpoint
from huzhu_verify.errors import TileNotFoundError, VerificationError
from huzhu_verify.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    RootAccumulator,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    perfect_root,
    perfect_subtrees,
    verify_inclusion,
)
from huzhu_verify.note import Ed25519Signer, Verifier, add_signature_lines, sign_note
from huzhu_verify.receipt import Receipt, sign_receipt
from huzhu_verify.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileHashReader,
    TileRef,
    edge_root,
    format_entry_bundle,
    parse_tile_path,
)

SIGNER_INFO_KEY = "huzhu.log_signer"
"""``session.info`` key of the log's :class:`Ed25519Signer` (put there by the composition root)."""
APPENDED_INFO_KEY = "huzhu.log_appended"
"""``session.info`` key set by ``append_record``: the time of the last record appended."""
SIGNED_INFO_KEY = "huzhu.log_signed"
"""``session.info`` key set by :func:`sign_checkpoint`: this transaction signed a new checkpoint."""
WITNESSES_INFO_KEY = "huzhu.log_witnesses"
"""``session.info`` key of the names of the configured witnesses (HUZHU_LOG_WITNESSES), put there by
the composition root: a checkpoint is served once each of them answered for it (:func:`served_checkpoint`)."""
WITNESS_ROUNDS_INFO_KEY = "huzhu.log_witness_rounds"
"""``session.info`` key of the object whose ``request()`` is called after a transaction that signed a
checkpoint commits (:class:`huzhu.transparency.publish.WitnessRounds`: asks the witnesses)."""

_FULL = TILE_WIDTH * HASH_SIZE


# --- tiles in the database ---------------------------------------------------------------------


class DbTileReader:
    """A :class:`huzhu_verify.tiles.TileReader` over the ``log_tiles`` rows (hash tiles only)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def location(self) -> str:
        return "the database"

    def read_tile(self, ref: TileRef) -> bytes:
        if ref.is_entries:
            raise TileNotFoundError("entry bundles are not stored in the database")
        data = self.session.scalar(select(LogTile.hashes).where(LogTile.level == ref.level,
                                                                LogTile.tile_index == ref.index))
        if data is None or len(data) < ref.width * HASH_SIZE:
            raise TileNotFoundError(f"{ref.path} is not in the database")
        return bytes(data[: ref.width * HASH_SIZE])

    def read_checkpoint(self) -> bytes:
        row = served_checkpoint(self.session)
        if row is None:
            raise TileNotFoundError("no checkpoint is signed yet")
        return row.note.encode("utf-8")


def _tree_size(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(LogCheckpoint.tree_size), 0))) or 0)


def _read_edge(session: Session, size: int) -> list[bytearray]:
    """The partial tile of each level of the tree of ``size`` leaves (the right edge)."""
    edge: list[bytearray] = []
    level = 0
    while level == 0 or size >> (TILE_HEIGHT * level):
        width = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
        index = size >> (TILE_HEIGHT * (level + 1))
        data = b""
        if width:
            data = DbTileReader(session).read_tile(TileRef(level, index, width))
        edge.append(bytearray(data))
        level += 1
    return edge


class _TileExtender:
    """Appends leaf hashes to the stored tiles, writing each changed tile once at the end."""

    def __init__(self, session: Session, size: int) -> None:
        self.session = session
        self.size = size
        self.edge = _read_edge(session, size)
        self.dirty: dict[tuple[int, int], bytes] = {}

    def add(self, leaf: bytes) -> None:
        self.edge[0] += leaf
        self.size += 1
        if len(self.edge[0]) == _FULL:
            self._complete(0)

    def _complete(self, level: int) -> None:
        data = bytes(self.edge[level])
        index = (self.size >> (TILE_HEIGHT * (level + 1))) - 1
        self.dirty[(level, index)] = data
        self.edge[level].clear()
        if len(self.edge) == level + 1:
            self.edge.append(bytearray())
        self.edge[level + 1] += perfect_root(data)
        if len(self.edge[level + 1]) == _FULL:
            self._complete(level + 1)

    def write(self) -> bytes:
        """Store every completed and partial tile; returns the root."""
        for level, hashes in enumerate(self.edge):
            if hashes:
                self.dirty[(level, self.size >> (TILE_HEIGHT * (level + 1)))] = bytes(hashes)
        for (level, index), data in self.dirty.items():
            row = self.session.get(LogTile, (level, index))
            if row is None:
                self.session.add(LogTile(level=level, tile_index=index, hashes=data))
            elif bytes(row.hashes) != data:
                if len(row.hashes) > len(data) or bytes(row.hashes) != data[: len(row.hashes)]:
                    raise Conflict(LogError.TILE_DISAGREES, level=level, index=index)
                row.hashes = data
        self.session.flush()
        return edge_root(self.edge) if self.size else EMPTY_ROOT


# --- checkpoints --------------------------------------------------------------------------------


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    """The newest checkpoint the log signed (what the next one extends and the witnesses are asked to
    cosign); what readers are given is :func:`served_checkpoint`."""
    return session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.tree_size.desc()).limit(1))


def served_checkpoint(session: Session) -> LogCheckpoint | None:
    """The checkpoint every public answer is read against: the newest one each configured witness
    has answered for (cosigned, or was asked and did not cosign: down, or refused), so a checkpoint
    is not served while its witness round is still under way, and a witness that is down delays it
    by one round only. Without witnesses (or before any round answered) it is the newest signed one.
    """
    names = sorted(set(session.info.get(WITNESSES_INFO_KEY) or ()))
    if not names:
        return latest_checkpoint(session)
    answered = (select(LogCosignature.tree_size).where(LogCosignature.witness.in_(names))
                .group_by(LogCosignature.tree_size).having(func.count() == len(names))
                .order_by(LogCosignature.tree_size.desc()).limit(1).scalar_subquery())
    row = session.scalar(select(LogCheckpoint).where(LogCheckpoint.tree_size == answered))
    return row if row is not None else latest_checkpoint(session)


def checkpoint_at(session: Session, tree_size: int) -> LogCheckpoint | None:
    return session.scalar(select(LogCheckpoint).where(LogCheckpoint.tree_size == tree_size))


def sign_checkpoint(session: Session, signer: Ed25519Signer, *, now: datetime) -> LogCheckpoint | None:
    """Extend the tiles with every record not yet in a checkpoint and sign a checkpoint of the new size.

    Returns the new checkpoint, or None when there is nothing new. Each new leaf is recomputed from
    its payload; a record whose content does not match its stored hash, or a gap in the leaf
    indexes, is refused (never signed).
    """
    previous = latest_checkpoint(session)
    size = previous.tree_size if previous else 0
    rows = session.execute(select(PublicRecord.leaf_index, PublicRecord.payload, PublicRecord.leaf_hash)
                           .where(PublicRecord.leaf_index >= size).order_by(PublicRecord.leaf_index)
                           ).yield_per(5000)
    extender = _TileExtender(session, size)
    for row in rows:
        if row.leaf_index != extender.size:
            raise Conflict(LogError.RECORD_GAP, missing=extender.size, next=row.leaf_index)
        leaf = leaf_hash(row.payload.encode("utf-8"))
        if leaf.hex() != row.leaf_hash:
            raise Conflict(LogError.RECORD_HASH, record=row.leaf_index)
        extender.add(leaf)
    if extender.size == size and previous is not None:
        return None
    root = extender.write()
    text = Checkpoint(signer.name, extender.size, root).to_text()
    checkpoint = LogCheckpoint(tree_size=extender.size, root_hash=root.hex(),
                               note=sign_note(text, [signer]).decode("utf-8"), signed_at=now)
    session.add(checkpoint)
    session.flush()
    session.info[SIGNED_INFO_KEY] = True  # the witnesses are asked once this transaction commits
    return checkpoint


def cosignature_lines(session: Session, tree_size: int) -> list[str]:
    return list(session.scalars(select(LogCosignature.line).where(LogCosignature.tree_size == tree_size,
                                                                  LogCosignature.line != "")
                                .order_by(LogCosignature.witness)))


def checkpoint_with_cosignatures(session: Session, row: LogCheckpoint) -> str:
    """The signed note with every stored witness cosignature line added (what clients read)."""
    lines = cosignature_lines(session, row.tree_size)
    note = row.note.encode("utf-8")
    return (add_signature_lines(note, lines) if lines else note).decode("utf-8")


def store_cosignature(session: Session, tree_size: int, witness: str, line: str, *, now: datetime) -> None:
    """Store a witness's answer for a checkpoint: its cosignature line, or ``""`` when it was asked and
    did not cosign (down or refused; asked again next round). A cosignature replaces an empty answer,
    never the other way round."""
    row = session.scalar(select(LogCosignature).where(LogCosignature.tree_size == tree_size,
                                                      LogCosignature.witness == witness))
    if row is None:
        session.add(LogCosignature(tree_size=tree_size, witness=witness, line=line, received_at=now))
    elif line and not row.line:
        row.line, row.received_at = line, now
    session.flush()


def _sign_on_commit(session: Session) -> None:
    appended = session.info.pop(APPENDED_INFO_KEY, None)
    signer = session.info.get(SIGNER_INFO_KEY)
    if appended is not None and isinstance(signer, Ed25519Signer):
        sign_checkpoint(session, signer, now=appended)


def install_commit_signing() -> None:
    """Sign a checkpoint in every transaction that appended records, just before it commits."""
    if not event.contains(Session, "before_commit", _sign_on_commit):
        event.listen(Session, "before_commit", _sign_on_commit)


def _ask_witnesses_after_commit(session: Session) -> None:
    if session.info.pop(SIGNED_INFO_KEY, None):
        rounds = session.info.get(WITNESS_ROUNDS_INFO_KEY)
        if rounds is not None:
            rounds.request()


def _rollback(session: Session) -> None:
    session.info.pop(APPENDED_INFO_KEY, None)
    session.info.pop(SIGNED_INFO_KEY, None)


if not event.contains(Session, "after_rollback", _rollback):
    event.listen(Session, "after_rollback", _rollback)
if not event.contains(Session, "after_commit", _ask_witnesses_after_commit):
    event.listen(Session, "after_commit", _ask_witnesses_after_commit)


# --- proofs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointView:
    """What every answer that depends on the log carries: the size and the signed checkpoint."""

    tree_size: int
    root_hash: str
    checkpoint: str

    def as_dict(self) -> dict[str, Any]:
        return {"tree_size": self.tree_size, "root_hash": self.root_hash, "checkpoint": self.checkpoint}


def current_view(session: Session) -> CheckpointView | None:
    row = served_checkpoint(session)
    if row is None:
        return None
    return CheckpointView(row.tree_size, row.root_hash, checkpoint_with_cosignatures(session, row))


def require_view(session: Session) -> CheckpointView:
    view = current_view(session)
    if view is None:
        raise NotFound(LogError.NO_CHECKPOINT)
    return view


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


class _PrefetchedTiles:
    """A TileReader over tiles fetched in one query (a proof touches a handful of tiles)."""

    def __init__(self, session: Session, tree_size: int, ranges: list[tuple[int, int]]) -> None:
        wanted: set[tuple[int, int]] = set()
        for lo, hi in ranges:
            for height, index in perfect_subtrees(lo, hi):
                level, rest = divmod(height, TILE_HEIGHT)
                wanted.add((level, (index << rest) // TILE_WIDTH))
        self.tiles: dict[tuple[int, int], bytes] = {}
        if wanted:
            rows = session.execute(select(LogTile.level, LogTile.tile_index, LogTile.hashes)
                                   # OR of key lookups: SQLite scans the table for a row-value IN list
                                   .where(or_(*(and_(LogTile.level == level, LogTile.tile_index == index)
                                                for level, index in sorted(wanted)))))
            self.tiles = {(row.level, row.tile_index): bytes(row.hashes) for row in rows}

    @property
    def location(self) -> str:
        return "the database"

    def read_tile(self, ref: TileRef) -> bytes:
        data = self.tiles.get((ref.level, ref.index))
        if data is None or len(data) < ref.width * HASH_SIZE:
            raise TileNotFoundError(f"{ref.path} is not in the database")
        return data[: ref.width * HASH_SIZE]

    def read_checkpoint(self) -> bytes:  # pragma: no cover - never asked: the caller has the checkpoint
        raise TileNotFoundError("the checkpoint is read from log_checkpoints")


@lru_cache(maxsize=4096)
def _subtree_root(hashes: bytes) -> bytes:
    """:func:`perfect_root`, remembered by content: the upper tiles (a 10M-leaf tree has 153 level-1
    tiles and one level-2 tile) are in nearly every proof, and each of their subtrees is hashed once,
    not ~250 hashes per tile per request. Keyed by the hashed bytes themselves, so a tile row that
    changed is hashed afresh."""
    return perfect_root(hashes)


class _ProofHashReader(TileHashReader):
    """A :class:`TileHashReader` whose larger subtrees (16 hashes and up) come from :func:`_subtree_root`."""

    def subtree_hash(self, height: int, index: int) -> bytes:
        level, rest = divmod(height, TILE_HEIGHT)
        if rest < 4:
            return super().subtree_hash(height, index)
        if (index + 1) << height > self.tree_size:
            raise ValueError(f"subtree ({height}, {index}) is not complete in a tree of size {self.tree_size}")
        tile_index, offset = divmod(index << rest, TILE_WIDTH)
        data = self._tile(level, tile_index)
        return _subtree_root(data[offset * HASH_SIZE: (offset + (1 << rest)) * HASH_SIZE])


def _signed_view(session: Session, view: CheckpointView, size: int) -> tuple[str | None, str | None]:
    """(signed note with cosignatures, root hex) of the checkpoint of ``size``, if the log signed one."""
    if size == view.tree_size:
        return view.checkpoint, view.root_hash
    row = checkpoint_at(session, size)
    return (checkpoint_with_cosignatures(session, row), row.root_hash) if row else (None, None)


def inclusion(session: Session, index: int, tree_size: int | None = None) -> dict[str, Any]:
    """Inclusion proof of leaf ``index`` in the tree of ``tree_size`` leaves (default: latest).

    The tiles the proof needs are read in one query (at 10M leaves: about five rows)."""
    view = require_view(session)
    size = view.tree_size if tree_size is None else tree_size
    if not 0 < size <= view.tree_size:
        raise InvalidInput(LogError.TREE_SIZE_RANGE, latest=view.tree_size,
                           details={"tree_size": size, "latest": view.tree_size})
    if not 0 <= index < size:
        raise InvalidInput(LogError.INDEX_RANGE, last=size - 1, size=size, details={"index": index})
    signed, root = _signed_view(session, view, size)
    ranges = inclusion_ranges(index, size) + [(index, index + 1)] + ([] if root else [(0, size)])
    reader = _ProofHashReader(_PrefetchedTiles(session, view.tree_size, ranges), view.tree_size)
    proof = reader.inclusion_proof(index, size)
    return {"index": index, "tree_size": size, "leaf_hash": reader.leaf_hash(index).hex(),
            "root_hash": root or reader.tree_hash(size).hex(), "proof": [h.hex() for h in proof],
            "proof_b64": _b64(proof), "checkpoint": signed, "latest": view.as_dict()}


def consistency(session: Session, first: int, second: int | None = None) -> dict[str, Any]:
    """Consistency proof from size ``first`` to ``second`` (default: latest), from one read of tiles."""
    view = require_view(session)
    second = view.tree_size if second is None else second
    if not 0 < second <= view.tree_size:
        raise InvalidInput(LogError.TO_RANGE, latest=view.tree_size, details={"to": second})
    if not 0 < first <= second:
        raise InvalidInput(LogError.FROM_RANGE, to=second, details={"from": first})
    signed_first, first_root = _signed_view(session, view, first)
    signed_second, second_root = _signed_view(session, view, second)
    ranges = (consistency_ranges(first, second) + ([] if first_root else [(0, first)])
              + ([] if second_root else [(0, second)]))
    reader = _ProofHashReader(_PrefetchedTiles(session, view.tree_size, ranges), view.tree_size)
    proof = reader.consistency_proof(first, second)
    return {"from": first, "to": second, "from_root": first_root or reader.tree_hash(first).hex(),
            "to_root": second_root or reader.tree_hash(second).hex(), "proof": [h.hex() for h in proof],
            "proof_b64": _b64(proof), "from_checkpoint": signed_first, "to_checkpoint": signed_second,
            "latest": view.as_dict()}


def entries(session: Session, start: int, limit: int) -> tuple[list[PublicRecord], CheckpointView]:
    """Records ``start`` … ``start + limit - 1`` that are inside the latest checkpoint."""
    view = require_view(session)
    if not 0 <= start < view.tree_size:
        raise InvalidInput(LogError.START_RANGE, last=view.tree_size - 1, details={"start": start})
    end = min(start + limit, view.tree_size)
    rows = list(session.scalars(select(PublicRecord).where(PublicRecord.leaf_index >= start,
                                                          PublicRecord.leaf_index < end)
                                .order_by(PublicRecord.leaf_index)))
    return rows, view


# --- checking the whole log ---------------------------------------------------------------------


def _checkpoints(session: Session) -> Iterator[LogCheckpoint]:
    return iter(session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.tree_size)).all())


def verify_log(session: Session, verifier: Verifier | None) -> list[str]:
    """Recompute the log from the records' content and compare with every signed checkpoint.

    Returns the problems found (empty = the stored records are exactly what the log signed).
    Without ``verifier`` (no key configured) the signatures are not checked, only the roots.
    """
    problems: list[str] = []
    checkpoints = list(_checkpoints(session))
    for row in checkpoints:
        if verifier is None:
            continue
        try:
            signed = open_checkpoint(row.note.encode("utf-8"), [verifier], origin=verifier.name)
        except VerificationError as exc:
            problems.append(f"checkpoint of size {row.tree_size}: not signed by the log key ({exc})")
            continue
        if signed.checkpoint.size != row.tree_size or signed.checkpoint.root_hash.hex() != row.root_hash:
            problems.append(f"checkpoint of size {row.tree_size}: the stored size or root differs from the signed note")
    pending = iter(checkpoints)
    target = next(pending, None)
    acc = RootAccumulator()
    records = session.execute(select(PublicRecord.leaf_index, PublicRecord.payload, PublicRecord.leaf_hash)
                              .order_by(PublicRecord.leaf_index)).yield_per(5000)

    def check_roots() -> LogCheckpoint | None:
        nonlocal target
        while target is not None and target.tree_size == acc.size:
            if acc.root().hex() != target.root_hash:
                problems.append(f"the records 0-{acc.size - 1} do not hash to the root the log signed at size "
                                f"{target.tree_size}: a record was edited, dropped, added or moved")
            target = next(pending, None)
        return target

    check_roots()
    for record in records:
        if record.leaf_index != acc.size:
            problems.append(f"public record {acc.size} is missing (the next one is {record.leaf_index})")
            break
        leaf = leaf_hash(record.payload.encode("utf-8"))
        if leaf.hex() != record.leaf_hash:
            problems.append(f"public record {record.leaf_index}: content does not match its hash")
        acc.add(leaf)
        check_roots()
    if target is not None:
        problems.append(f"the log signed a checkpoint of size {target.tree_size} but only {acc.size} records "
                        "are stored: records were dropped")
    return problems


# --- checking records shown on pages -------------------------------------------------------------


def verified_records(session: Session, records: list[PublicRecord]) -> dict[int, bool]:
    """For each record (by leaf index): is its content, as stored now, the leaf the log signed?

    Each record's leaf hash is recomputed from its payload and proved (from the tiles) to be in the
    latest checkpoint, whose signature is checked with the log key. A record edited in place, even
    with its stored hash and the tiles recomputed, fails; so does one not yet in a checkpoint.
    """
    marks = {r.leaf_index: False for r in records}
    row = served_checkpoint(session)
    signer = session.info.get(SIGNER_INFO_KEY)
    if row is None or not isinstance(signer, Ed25519Signer) or not records:
        return marks
    try:
        signed = open_checkpoint(row.note.encode("utf-8"), [signer.verifier], origin=signer.name).checkpoint
    except VerificationError:
        return marks
    reader = TileHashReader(DbTileReader(session), signed.size)
    for record in records:
        if record.leaf_index >= signed.size:
            continue
        try:
            proof = reader.inclusion_proof(record.leaf_index)
            verify_inclusion(leaf_hash(record.payload.encode("utf-8")), record.leaf_index, signed.size, proof,
                             signed.root_hash)
        except (VerificationError, ValueError):
            continue
        marks[record.leaf_index] = True
    return marks


# --- receipts -----------------------------------------------------------------------------------


def issue_receipt(session: Session, *, kind: str, subject: str, now: datetime) -> str | None:
    """The log's signed promise of inclusion (:mod:`huzhu_verify.receipt`) of the latest record of
    ``kind`` about ``subject`` appended in this transaction; None without the log key."""
    signer = session.info.get(SIGNER_INFO_KEY)
    if not isinstance(signer, Ed25519Signer):
        return None
    row = session.execute(select(PublicRecord.leaf_index, PublicRecord.leaf_hash)
                          .where(PublicRecord.kind == kind, PublicRecord.subject == subject)
                          .order_by(PublicRecord.leaf_index.desc()).limit(1)).one_or_none()
    if row is None:
        return None
    moment = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    receipt = Receipt(signer.name, row.leaf_index, bytes.fromhex(row.leaf_hash), moment)
    return sign_receipt(receipt, signer).decode("utf-8")


# --- serving the log as tlog-tiles files --------------------------------------------------------


def log_verifier_key(session: Session) -> str:
    """The log's verifier key (public; C2SP note key text)."""
    signer = session.info.get(SIGNER_INFO_KEY)
    if not isinstance(signer, Ed25519Signer):
        raise NotFound(LogError.NO_LOG_KEY)
    return signer.verifier.vkey


def tile_ref(path: str) -> TileRef:
    """The tile or bundle a ``tile/…`` path names; a malformed path is :class:`NotFound`."""
    try:
        return parse_tile_path(path)
    except (VerificationError, ValueError):
        raise NotFound(LogError.NOT_A_TILE_PATH, path=path) from None


def tile_file(session: Session, ref: TileRef) -> bytes:
    """The bytes of tile or entry bundle ``ref`` as a tlog-tiles server serves them.

    A tile must exist in the latest checkpoint's tree (a partial tile of any width up to what is
    stored: older partial tiles stay readable); anything beyond is :class:`NotFound`.
    """
    view = served_checkpoint(session)
    size = view.tree_size if view else 0
    if ref.is_entries:
        first = ref.index * TILE_WIDTH
        if first + ref.width > size:
            raise NotFound(LogError.NOT_IN_LOG, path=ref.path)
        rows = session.scalars(select(PublicRecord.payload).where(PublicRecord.leaf_index >= first,
                                                                  PublicRecord.leaf_index < first + ref.width)
                               .order_by(PublicRecord.leaf_index)).all()
        if len(rows) != ref.width:
            raise NotFound(LogError.TILE_RECORDS_MISSING, path=ref.path)
        return format_entry_bundle(p.encode("utf-8") for p in rows)
    if (ref.index * TILE_WIDTH + ref.width) << (TILE_HEIGHT * ref.level) > size:
        raise NotFound(LogError.NOT_IN_LOG, path=ref.path)
    try:
        return DbTileReader(session).read_tile(ref)
    except TileNotFoundError:
        raise NotFound(LogError.NOT_IN_LOG, path=ref.path) from None
