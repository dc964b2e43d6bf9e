"""Sealed files (evidence documents): AES-256-GCM in 64 KiB chunks, so a document is sealed as it
streams in and opened as it streams out, without being held whole in memory.

Layout: ``HZF1`` ‖ key-id length (1 byte) ‖ key id ‖ 7-byte random nonce prefix, then chunks of
at most 64 KiB of plaintext, each sealed with nonce = prefix ‖ chunk counter (4 bytes) ‖ last-chunk
flag (1 byte) and the header as associated data. Reordering, dropping or truncating chunks, or
changing the header, makes the file fail to open (the STREAM construction).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag

from huzhu.sealing.keyring import KEY_ID, Keyring, SealError

MAGIC = b"HZF1"
PLAIN_CHUNK = 64 * 1024
TAG = 16
PREFIX_BYTES = 7


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class SealingWriter:
    """Seals what is written to ``handle`` (call ``close`` to write the last chunk)."""

    def __init__(self, handle: BinaryIO, keyring: Keyring) -> None:
        keyring.refresh()
        kid = keyring.current.encode("ascii")
        self._aead = keyring.key(keyring.current)
        self._prefix = os.urandom(PREFIX_BYTES)
        self._header = MAGIC + bytes([len(kid)]) + kid + self._prefix
        self._handle = handle
        self._buffer = bytearray()
        self._counter = 0
        handle.write(self._header)

    def write(self, data: bytes) -> None:
        self._buffer += data
        # Keep at least one byte back: the last chunk must be written with the last flag.
        while len(self._buffer) > PLAIN_CHUNK:
            self._emit(bytes(self._buffer[:PLAIN_CHUNK]), last=False)
            del self._buffer[:PLAIN_CHUNK]

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        self._handle.write(self._aead.encrypt(_nonce(self._prefix, self._counter, last), chunk, self._header))
        self._counter += 1

    def close(self) -> None:
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()


def read_header(handle: BinaryIO) -> tuple[str, bytes, bytes]:
    """(key id, nonce prefix, header bytes) of a sealed file."""
    magic = handle.read(4)
    if magic != MAGIC:
        raise SealError("not a sealed file")
    length = handle.read(1)
    kid_raw = handle.read(length[0]) if length else b""
    prefix = handle.read(PREFIX_BYTES)
    kid = kid_raw.decode("ascii", "replace")
    if not KEY_ID.match(kid) or len(prefix) != PREFIX_BYTES:
        raise SealError("a sealed file's header is damaged")
    return kid, prefix, magic + length + kid_raw + prefix


def key_id_of_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return read_header(handle)[0]


def open_chunks(path: Path, keyring: Keyring) -> Iterator[bytes]:
    """The plaintext of a sealed file, chunk by chunk; raises ``SealError`` if any part was altered."""
    with open(path, "rb") as handle:
        kid, prefix, header = read_header(handle)
        aead = keyring.key(kid)
        counter = 0
        chunk = handle.read(PLAIN_CHUNK + TAG)
        while True:
            following = handle.read(PLAIN_CHUNK + TAG)
            last = not following
            try:
                yield aead.decrypt(_nonce(prefix, counter, last), chunk, header)
            except InvalidTag:
                raise SealError(f"sealed file {path.name} does not open: wrong key, altered or truncated") from None
            if last:
                return
            chunk, counter = following, counter + 1


def seal_file(source: BinaryIO, target: Path, keyring: Keyring) -> None:
    """Write ``source``'s bytes sealed to ``target`` (atomically, mode 0600)."""
    temporary = target.with_name(f".{target.name}.sealing")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = SealingWriter(handle, keyring)
            while data := source.read(1024 * 1024):
                writer.write(data)
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class _ChunkReader:
    """A file-like reader over a sealed file's plaintext (to re-seal it under another key)."""

    def __init__(self, path: Path, keyring: Keyring) -> None:
        self._chunks = open_chunks(path, keyring)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._pending += nxt
        if size < 0:
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out


def reseal_file(path: Path, keyring: Keyring) -> bool:
    """Re-seal a file under the current key; False when it already is."""
    if key_id_of_file(path) == keyring.current:
        return False
    seal_file(_ChunkReader(path, keyring), path, keyring)  # type: ignore[arg-type]
    return True


def is_sealed_file(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == MAGIC
