"""Checkpoints (C2SP tlog-checkpoint, https://c2sp.org/tlog-checkpoint): the signed tree head.

A checkpoint is the text of a signed note (:mod:`huzhu_verify.note`) with at least three lines
(§Note text):

1. the **origin**, a non-empty identifier of the log (``huzhu.example/public-log``);
2. the **tree size**, ASCII decimal without leading zeroes (``0`` for the empty tree);
3. the **root hash**, base64 of the RFC 6962 root of the tree at that size (32 bytes);
4. optional, non-empty **extension lines**.

Parsing is strict: every rule above is checked, the root must be canonical base64 of exactly 32
bytes (so one tree has one text), and sizes are limited to 2^63 - 1 like the Go reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from huzhu_verify._util import b64decode_strict, b64encode, parse_decimal
from huzhu_verify.errors import MalformedError, UnknownLogError
from huzhu_verify.note import Note, Verifier, VerifierSet, open_note

__all__ = ["Checkpoint", "SignedCheckpoint", "open_checkpoint", "parse_checkpoint"]

HASH_SIZE = 32


@dataclass(frozen=True)
class Checkpoint:
    """The body of a checkpoint: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedError("a checkpoint origin must be one non-empty line")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise MalformedError(f"a checkpoint tree size must be a non-negative integer, got {self.size!r}")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedError(f"a checkpoint root hash is {HASH_SIZE} bytes, got {len(self.root_hash)}")
        for line in self.extensions:
            if not line or "\n" in line:
                raise MalformedError("checkpoint extension lines must be single non-empty lines")

    def to_text(self) -> str:
        """The note text of this checkpoint (each line ends with a newline)."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @property
    def root_b64(self) -> str:
        return b64encode(self.root_hash)

    def describe(self) -> str:
        """One line for reports: origin, size and root."""
        return f"{self.origin} at size {self.size}, root {self.root_b64}"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text strictly (tlog-checkpoint §Note text)."""
    if not text.endswith("\n"):
        raise MalformedError("malformed checkpoint: the text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError(f"malformed checkpoint: {len(lines)} lines, at least 3 needed (origin, size, root)")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise MalformedError("malformed checkpoint: the origin line is empty")
    size = parse_decimal(size_line, "checkpoint tree size")
    root = b64decode_strict(root_line, "checkpoint root hash")
    if len(root) != HASH_SIZE or b64encode(root) != root_line:
        raise MalformedError(f"malformed checkpoint: the root hash {root_line!r} is not base64 of 32 bytes")
    if any(not line for line in extensions):
        raise MalformedError("malformed checkpoint: an extension line is empty")
    return Checkpoint(origin, size, root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with its opened note (which keys signed it) and the exact bytes."""

    checkpoint: Checkpoint
    note: Note
    raw: bytes


def open_checkpoint(
    msg: bytes, log_keys: Iterable[Verifier] | VerifierSet, *, origin: str | None = None
) -> SignedCheckpoint:
    """Verify a signed checkpoint against the log's key(s) and parse its body.

    With ``origin``, the checkpoint must name exactly that log. Raises the errors of
    :func:`~huzhu_verify.note.open_note`, :class:`MalformedError` and :class:`UnknownLogError`.
    """
    note = open_note(msg, log_keys)
    checkpoint = parse_checkpoint(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise UnknownLogError(
            f"the checkpoint is for the log {checkpoint.origin!r}, not the expected {origin!r}"
        )
    return SignedCheckpoint(checkpoint, note, bytes(msg))
