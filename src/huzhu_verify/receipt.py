"""Receipts: the log's signed promise that an entry is (or will be) in the log, like Certificate
Transparency's SCT or Rekor's SET.

A receipt is a signed note (:mod:`huzhu_verify.note`) by the log's key whose text is::

    huzhu-receipt/v1
    origin <the log's origin>
    index <the entry's index, decimal>
    leaf <base64 of the entry's RFC 9162 leaf hash>
    time <UTC time it was issued, RFC 3339>

The first line is not the log's origin, so a receipt can never be taken for a checkpoint (whose
first line is the origin and whose second line is a bare size). The promise is kept when a
checkpoint signed by the same log, of a size larger than ``index``, has the leaf ``leaf`` at
``index`` — checked with an inclusion proof (:func:`check_receipt`). A checkpoint that is large
enough and does not include it is proof that the log broke its promise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from huzhu_verify._util import b64decode_strict, b64encode, parse_decimal
from huzhu_verify.checkpoint import Checkpoint
from huzhu_verify.errors import MalformedError, ProofError
from huzhu_verify.merkle import HASH_SIZE, verify_inclusion
from huzhu_verify.note import Signer, Verifier, open_note, sign_note

__all__ = ["HEADER", "Receipt", "check_receipt", "open_receipt", "sign_receipt"]

HEADER = "huzhu-receipt/v1"


class ReceiptPendingError(ProofError):
    """The checkpoint is not large enough yet to include the receipt's entry."""


@dataclass(frozen=True)
class Receipt:
    origin: str
    index: int
    leaf_hash: bytes
    time: str

    def to_text(self) -> str:
        lines = [HEADER, f"origin {self.origin}", f"index {self.index}", f"leaf {b64encode(self.leaf_hash)}",
                 f"time {self.time}"]
        return "".join(line + "\n" for line in lines)


def sign_receipt(receipt: Receipt, signer: Signer) -> bytes:
    if receipt.origin != signer.name:
        raise MalformedError(f"a receipt of {receipt.origin!r} must be signed by that log's key, not {signer.name!r}")
    return sign_note(receipt.to_text(), [signer])


def _field(line: str, name: str) -> str:
    prefix = name + " "
    if not line.startswith(prefix) or len(line) == len(prefix):
        raise MalformedError(f"malformed receipt: expected a '{name} …' line, got {line!r}")
    return line[len(prefix):]


def open_receipt(msg: bytes, log_keys: Sequence[Verifier]) -> Receipt:
    """Verify the receipt's signature by one of the log keys and parse it."""
    note = open_note(msg, log_keys)
    lines = note.text.rstrip("\n").split("\n")
    if len(lines) != 5 or lines[0] != HEADER:
        raise MalformedError(f"not a {HEADER} receipt")
    origin = _field(lines[1], "origin")
    index = parse_decimal(_field(lines[2], "index"), "receipt index")
    leaf = b64decode_strict(_field(lines[3], "leaf"), "receipt leaf hash")
    if len(leaf) != HASH_SIZE:
        raise MalformedError("malformed receipt: the leaf hash is not 32 bytes")
    receipt = Receipt(origin, index, leaf, _field(lines[4], "time"))
    signer_names = {sig.name for sig in note.signatures}
    if origin not in signer_names:
        raise MalformedError(f"the receipt names the log {origin!r} but is signed by {sorted(signer_names)}")
    return receipt


def check_receipt(receipt: Receipt, checkpoint: Checkpoint, proof: Sequence[bytes]) -> None:
    """The promise is kept in ``checkpoint`` (already verified): raises if not."""
    if checkpoint.origin != receipt.origin:
        raise MalformedError(f"the receipt is for {receipt.origin!r}, the checkpoint for {checkpoint.origin!r}")
    if receipt.index >= checkpoint.size:
        raise ReceiptPendingError(f"entry {receipt.index} is not in the tree of size {checkpoint.size} yet")
    verify_inclusion(receipt.leaf_hash, receipt.index, checkpoint.size, proof, checkpoint.root_hash)
