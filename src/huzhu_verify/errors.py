"""Every way a verification can fail, as one exception hierarchy.

Each error's message is written for an auditor: it says what was checked, against what, and what
was found, so a failed run can be reported as it is. Callers branch on the class, never on the text.

``VerificationError``
    ``MalformedError``       input that does not parse (note, key, checkpoint, tile path, policy,
                             witness request, state file); also a ``ValueError``
    ``SignatureError``       signatures: none from a known key, a bad one, ambiguous keys
    ``UnknownLogError``      a checkpoint from a log (origin) the policy or witness does not know
    ``QuorumError``          too few trusted witnesses cosigned
    ``ProofError``           an inclusion or consistency proof does not verify; also a ``ValueError``
    ``TileError``            a tile or entry bundle is missing, has the wrong size, or its content
                             does not match the tree (``TileNotFoundError`` for a missing one)
    ``HistoryError``         the log's history changed: ``ForkError`` (two different trees that
                             cannot both be true) and ``RollbackError`` (a smaller tree than one
                             already verified)
"""

from __future__ import annotations

__all__ = [
    "AmbiguousKeyError",
    "ForkError",
    "HistoryError",
    "InvalidSignatureError",
    "MalformedError",
    "ProofError",
    "QuorumError",
    "RollbackError",
    "SignatureError",
    "TileError",
    "TileNotFoundError",
    "UnknownLogError",
    "UnverifiedNoteError",
    "VerificationError",
]


class VerificationError(Exception):
    """Base class: something published could not be verified."""


class MalformedError(VerificationError, ValueError):
    """The input does not follow its format (the message names the format and the rule broken)."""


class SignatureError(VerificationError):
    """A signed note's signatures do not establish who signed it."""


class UnverifiedNoteError(SignatureError):
    """No signature from a known key verified (signatures from unknown keys are ignored).

    ``note`` holds the parsed note (text and the signatures seen), for reporting.
    """

    def __init__(self, message: str, note: object | None = None) -> None:
        super().__init__(message)
        self.note = note


class InvalidSignatureError(SignatureError):
    """A signature line names a known key (name and key ID) but its signature is wrong."""

    def __init__(self, name: str, key_hash: int) -> None:
        super().__init__(
            f"the signature by {name} (key ID {key_hash:08x}) does not verify: "
            "the signed text was changed or the signature forged"
        )
        self.name = name
        self.key_hash = key_hash


class AmbiguousKeyError(SignatureError):
    """Two trusted keys share a name and key ID, so a signature cannot be attributed."""


class UnknownLogError(VerificationError):
    """A checkpoint comes from a log origin that is not configured."""


class QuorumError(VerificationError):
    """Fewer trusted witnesses cosigned the checkpoint than the policy requires."""


class ProofError(VerificationError, ValueError):
    """An inclusion or consistency proof does not verify (RFC 9162 §2.1.3.2, §2.1.4.2)."""


class TileError(VerificationError):
    """A tile or an entry bundle is unusable: wrong length, inconsistent with the tree, unreadable."""


class TileNotFoundError(TileError):
    """A tile or entry bundle that the checkpoint requires is not served."""


class HistoryError(VerificationError):
    """The log's history is not append-only relative to a checkpoint verified earlier.

    ``evidence`` holds the signed checkpoints that contradict each other (earlier one first): two
    notes signed by the log's key that cannot both be true are proof of misbehaviour.
    """

    def __init__(self, message: str, evidence: tuple[bytes, ...] = ()) -> None:
        super().__init__(message)
        self.evidence = evidence


class ForkError(HistoryError):
    """Two signed checkpoints of one log describe trees that cannot both be true (split view or rewrite)."""


class RollbackError(HistoryError):
    """A checkpoint is smaller than one already verified: the log went back in time."""
