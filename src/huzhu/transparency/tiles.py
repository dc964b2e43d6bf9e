"""Publishing the public log as static C2SP tlog-tiles files (pure: files only, no database).

:class:`TileLogWriter` appends entries to a tile directory incrementally and publishes signed
checkpoints, using the formats of :mod:`huzhu_verify` (paths, bundles, checkpoint, note), so the
files it writes are exactly what ``huzhu-verify`` and Go's ``sumdb/tlog`` read.

How it stays small and fast at millions of entries:

- **Only the right edge is read back.** A tree of size *s* is s in base 256: at each level the
  hashes not yet in a full tile are the partial tile of that level (and the partial entry bundle).
  Opening the writer reads just those (at most one tile per level, one bundle), checks that they
  hash to the checkpoint's root, and continues from there. Memory is O(levels · 8 KiB).
- **Full tiles and bundles are written once**, as soon as they fill, and never rewritten: writing
  a path that exists with different bytes is refused (:class:`ImmutableTileConflict`), so a bug or
  a second writer cannot silently change published history.
- **The checkpoint is written last**, atomically (temporary file + rename), after every tile it
  needs is on disk and fsync'ed, so a reader never sees a checkpoint without its tiles, and a crash
  leaves the previous checkpoint valid. Re-publishing after more entries writes only the new full
  tiles, the new partial tiles and the checkpoint.
- Witness cosignatures (C2SP tlog-witness) are requested before the checkpoint is written and
  added to it; a witness's refusal is reported in :class:`Publication`, never hidden.

One writer per directory at a time (an advisory lock file, ``.writer.lock``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from huzhu_verify._util import atomic_write, fsync_directory
from huzhu_verify.checkpoint import Checkpoint, open_checkpoint
from huzhu_verify.errors import TileError, TileNotFoundError, VerificationError
from huzhu_verify.merkle import HASH_SIZE, perfect_root
from huzhu_verify.note import Ed25519Signer, Signature, Verifier, add_signature_lines, sign_note
from huzhu_verify.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    DirectoryTileReader,
    TileHashReader,
    TileRef,
    edge_root,
    format_entry_bundle,
    read_bundle_checked,
    read_tile_checked,
)
from huzhu_verify.witness import WitnessEndpoint, request_cosignature

__all__ = ["ImmutableTileConflict", "Publication", "TileLogWriter", "WitnessPeer"]

CHECKPOINT = "checkpoint"
_FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_sha256 = hashlib.sha256


class ImmutableTileConflict(TileError):
    """A published tile or bundle would be overwritten with different bytes."""


@dataclass(frozen=True)
class WitnessPeer:
    """A witness the log asks for cosignatures: how to reach it and its cosignature key."""

    endpoint: WitnessEndpoint
    key: Verifier


@dataclass(frozen=True)
class Publication:
    """A published checkpoint: the body, the signed note as written, and what the witnesses said."""

    checkpoint: Checkpoint
    note: bytes
    previous_size: int
    cosigned_by: tuple[str, ...]
    witness_failures: tuple[str, ...]


class TileLogWriter:
    """Appends entries to a tiled log in ``directory`` and publishes signed checkpoints.

    ``signer`` is the log's Ed25519 key; its name is the log's origin. With ``entry_bundles`` off
    the writer takes leaf hashes instead of entries (:meth:`append_leaf_hashes`) and publishes no
    bundles — for logs whose entries are served elsewhere, and for benchmarks.
    """

    def __init__(
        self,
        directory: Path | str,
        signer: Ed25519Signer,
        *,
        entry_bundles: bool = True,
        durable: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.signer = signer
        self.origin = signer.name
        self.entry_bundles = entry_bundles
        self.durable = durable
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = self._acquire_lock()
        self._made_dirs: set[Path] = set()
        self._unsynced: list[Path] = []
        try:
            self._published = self._read_published()
            self._size = self._published.size
            self._edge = self._read_edge()
            self._bundle = self._read_partial_bundle()
        except BaseException:
            self.close()
            raise

    # --- lifecycle -------------------------------------------------------------------------------

    def _acquire_lock(self) -> int:
        fd = os.open(self.directory / ".writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TileError(f"another writer is publishing to {self.directory}") from None
        return fd

    def close(self) -> None:
        """Release the directory; unpublished appended entries are dropped (not in a checkpoint)."""
        if self._lock >= 0:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = -1

    def __enter__(self) -> TileLogWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- reading the published state -------------------------------------------------------------

    def _read_published(self) -> Checkpoint:
        path = self.directory / CHECKPOINT
        if not path.exists():
            return Checkpoint(self.origin, 0, _sha256(b"").digest())
        signed = open_checkpoint(path.read_bytes(), [self.signer.verifier], origin=self.origin)
        return signed.checkpoint

    def _read_edge(self) -> list[bytearray]:
        """The partial tile content of every level of the published tree, checked against its root."""
        reader = DirectoryTileReader(self.directory)
        size = self._size
        edge: list[bytearray] = []
        level = 0
        while level == 0 or size >> (TILE_HEIGHT * level):
            width = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
            index = size >> (TILE_HEIGHT * (level + 1))
            data = read_tile_checked(reader, TileRef(level, index, width)) if width else b""
            edge.append(bytearray(data))
            level += 1
        if edge_root(edge) != self._published.root_hash:
            raise TileError(
                f"the tiles in {self.directory} do not hash to the root of its checkpoint "
                f"(size {size}); refusing to append to a damaged log"
            )
        return edge

    def _read_partial_bundle(self) -> list[bytes]:
        width = self._size % TILE_WIDTH
        if not self.entry_bundles or not width:
            return []
        ref = TileRef.entries(self._size // TILE_WIDTH, width)
        try:
            entries = read_bundle_checked(DirectoryTileReader(self.directory), ref)
        except TileNotFoundError:
            raise TileError(f"{ref.path} is missing: this log was written without entry bundles") from None
        hashes = b"".join(_sha256(b"\x00" + e).digest() for e in entries)
        if hashes != bytes(self._edge[0]):
            raise TileError(f"{ref.path} does not match its level-0 tile; refusing to append")
        return entries

    @property
    def size(self) -> int:
        """Entries appended so far (published or not)."""
        return self._size

    @property
    def published(self) -> Checkpoint:
        """The checkpoint currently on disk."""
        return self._published

    # --- appending -------------------------------------------------------------------------------

    def append(self, entries: Iterable[bytes]) -> int:
        """Append entries (bytes, at most 65,535 each); full tiles and bundles are written as they fill.

        Returns the new size. Nothing is visible to readers until :meth:`publish`.
        """
        if not self.entry_bundles:
            raise TileError("this writer publishes leaf hashes only; use append_leaf_hashes")
        edge0, bundle = self._edge[0], self._bundle
        for entry in entries:
            if not isinstance(entry, bytes | bytearray) or len(entry) > MAX_ENTRY_SIZE:
                raise TileError(f"entry {self._size} must be bytes of at most {MAX_ENTRY_SIZE} bytes")
            bundle.append(bytes(entry))
            edge0 += _sha256(b"\x00" + entry).digest()
            self._size += 1
            if len(edge0) == _FULL_TILE_BYTES:
                self._complete_level0()
        return self._size

    def append_leaf_hashes(self, hashes: Iterable[bytes]) -> int:
        """Append precomputed leaf hashes (only for a writer created with ``entry_bundles=False``)."""
        if self.entry_bundles:
            raise TileError("this writer publishes entry bundles; append entries, not leaf hashes")
        edge0 = self._edge[0]
        for leaf in hashes:
            if len(leaf) != HASH_SIZE:
                raise TileError(f"leaf hash {self._size} is {len(leaf)} bytes, not {HASH_SIZE}")
            edge0 += leaf
            self._size += 1
            if len(edge0) == _FULL_TILE_BYTES:
                self._complete_level0()
        return self._size

    def _complete_level0(self) -> None:
        if self.entry_bundles:
            self._write_once(TileRef.entries(self._size // TILE_WIDTH - 1), format_entry_bundle(self._bundle))
            self._bundle.clear()
        self._complete(0)

    def _complete(self, level: int) -> None:
        """Level ``level`` holds a full tile: write it and carry its root one level up."""
        data = bytes(self._edge[level])
        index = (self._size >> (TILE_HEIGHT * (level + 1))) - 1
        self._write_once(TileRef(level, index), data)
        self._edge[level].clear()
        if len(self._edge) == level + 1:
            self._edge.append(bytearray())
        self._edge[level + 1] += perfect_root(data)
        if len(self._edge[level + 1]) == _FULL_TILE_BYTES:
            self._complete(level + 1)

    # --- files -----------------------------------------------------------------------------------

    def _write_once(self, ref: TileRef, data: bytes) -> None:
        path = self.directory / ref.path
        if path.exists():
            if path.read_bytes() != data:
                raise ImmutableTileConflict(f"{ref.path} is already published with different content")
            return
        parent = path.parent
        if parent not in self._made_dirs:
            parent.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(parent)
        tmp = parent / f".{path.name}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        if self.durable:
            self._unsynced.append(path)

    def _sync(self) -> None:
        """fsync every file written since the last publish, then their directories."""
        directories = set()
        for path in self._unsynced:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            directories.add(path.parent)
        for directory in directories:
            fsync_directory(directory)
        self._unsynced.clear()

    # --- publishing ------------------------------------------------------------------------------

    def _write_partials(self) -> None:
        for level, hashes in enumerate(self._edge):
            width = len(hashes) // HASH_SIZE
            if width:
                index = self._size >> (TILE_HEIGHT * (level + 1))
                self._write_once(TileRef(level, index, width), bytes(hashes))
        if self._bundle:
            self._write_once(TileRef.entries(self._size // TILE_WIDTH, len(self._bundle)),
                             format_entry_bundle(self._bundle))

    def hash_reader(self) -> TileHashReader:
        """Hashes and proofs of the tree as appended so far (after :meth:`publish`: as published)."""
        return TileHashReader(DirectoryTileReader(self.directory), self._size)

    def publish(
        self, *, extensions: Sequence[str] = (), witnesses: Sequence[WitnessPeer] = ()
    ) -> Publication:
        """Write the partial tiles and bundle, sign the checkpoint, collect cosignatures, write it.

        Each witness is asked with the previously published size as its old size (it answers 409
        with its own size if that differs, and is asked again once).
        """
        self._write_partials()
        if self.durable:
            self._sync()
        checkpoint = Checkpoint(self.origin, self._size, edge_root(self._edge), tuple(extensions))
        note = sign_note(checkpoint.to_text(), [self.signer])
        cosigned, failures = self._collect_cosignatures(note, checkpoint, witnesses)
        if cosigned:
            note = add_signature_lines(note, [sig.line for sig in cosigned])
        atomic_write(self.directory / CHECKPOINT, note, durable=self.durable)
        previous, self._published = self._published.size, checkpoint
        return Publication(checkpoint, note, previous, tuple(p.name for p in cosigned), tuple(failures))

    def _collect_cosignatures(
        self, note: bytes, checkpoint: Checkpoint, witnesses: Sequence[WitnessPeer]
    ) -> tuple[list[Signature], list[str]]:
        cosigned: list[Signature] = []
        failures: list[str] = []
        if not witnesses:
            return cosigned, failures
        tiles = self.hash_reader()
        for peer in witnesses:
            try:
                cosigned.append(request_cosignature(
                    peer.endpoint, peer.key, note, checkpoint,
                    old_size=self._published.size, prove=tiles.consistency_proof,
                ))
            except VerificationError as exc:
                failures.append(f"{peer.key.name}: {exc}")
        return cosigned, failures
