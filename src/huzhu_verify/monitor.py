"""A verifier that remembers: every new checkpoint must extend the last one it verified.

Signed checkpoints alone do not stop a log from rewriting history: the operator holds the key and
can sign a new tree. A monitor keeps the last verified checkpoint per origin in a state file and,
given a new one, demands a consistency proof (RFC 9162 §2.1.4) computed from the log's tiles:

- a smaller tree than the remembered one        → :class:`~huzhu_verify.errors.RollbackError`
- the same size with a different root            → :class:`~huzhu_verify.errors.ForkError`
- a larger tree that does not extend the old one → :class:`~huzhu_verify.errors.ForkError`
  (an entry edited, dropped, swapped or inserted anywhere before the old size)

The state is only written after every check passed, atomically. A failure leaves the state as it
was and carries both checkpoints as evidence (``error.evidence``).

State file (UTF-8 JSON)::

    {"format": "huzhu-verify-monitor/1",
     "logs": {"<origin>": {"size": 123, "root_hash": "<base64>",
                           "checkpoint": "<the signed checkpoint note>",
                           "verified_at": "2026-11-25T08:00:00Z"}}}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from huzhu_verify._util import atomic_write, b64decode_strict, b64encode
from huzhu_verify.errors import ForkError, MalformedError, ProofError, RollbackError, TileError
from huzhu_verify.merkle import verify_consistency
from huzhu_verify.policy import Policy, VerifiedCheckpoint
from huzhu_verify.tiles import TileHashReader, TileReader

__all__ = ["Monitor", "MonitorResult", "MonitorState", "RememberedCheckpoint", "check_tiles_match"]


@dataclass(frozen=True)
class RememberedCheckpoint:
    size: int
    root_hash: bytes
    checkpoint: bytes
    verified_at: str


@dataclass(frozen=True)
class MonitorResult:
    """Outcome of one successful check: the new checkpoint and what it was compared with."""

    verified: VerifiedCheckpoint
    previous: RememberedCheckpoint | None
    proof_length: int

    @property
    def status(self) -> str:
        if self.previous is None:
            return "first checkpoint remembered"
        if self.previous.size == self.verified.checkpoint.size:
            return "unchanged"
        return f"extended from size {self.previous.size}"


class MonitorState:
    """The monitor's memory, one JSON file replaced atomically."""

    FORMAT = "huzhu-verify-monitor/1"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, RememberedCheckpoint]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise MalformedError(f"monitor state {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != self.FORMAT or not isinstance(data.get("logs"), dict):
            raise MalformedError(f"monitor state {self.path} is not a {self.FORMAT} file")
        out = {}
        for origin, item in data["logs"].items():
            try:
                out[origin] = RememberedCheckpoint(
                    int(item["size"]), b64decode_strict(item["root_hash"], "remembered root"),
                    item["checkpoint"].encode("utf-8"), str(item.get("verified_at", "")),
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise MalformedError(f"monitor state {self.path}: bad record for {origin!r}: {exc}") from None
        return out

    def get(self, origin: str) -> RememberedCheckpoint | None:
        return self.load().get(origin)

    def put(self, origin: str, record: RememberedCheckpoint) -> None:
        records = self.load()
        records[origin] = record
        logs = {
            o: {"size": r.size, "root_hash": b64encode(r.root_hash),
                "checkpoint": r.checkpoint.decode("utf-8"), "verified_at": r.verified_at}
            for o, r in sorted(records.items())
        }
        text = json.dumps({"format": self.FORMAT, "logs": logs}, indent=1, ensure_ascii=False) + "\n"
        atomic_write(self.path, text.encode("utf-8"))


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_tiles_match(tiles: TileHashReader, verified: VerifiedCheckpoint) -> None:
    """The tiles of the checkpoint's size must hash to its root (they are what proofs come from)."""
    checkpoint = verified.checkpoint
    root = tiles.tree_hash()
    if root != checkpoint.root_hash:
        raise TileError(
            f"the tiles published for size {checkpoint.size} hash to {b64encode(root)}, "
            f"but the checkpoint says {checkpoint.root_b64}"
        )


class Monitor:
    """Checks each new checkpoint of a log against the one it verified before."""

    def __init__(self, state: MonitorState, policy: Policy, *, clock: Callable[[], str] = _utc_now) -> None:
        self.state = state
        self.policy = policy
        self.clock = clock

    def check(self, signed_checkpoint: bytes, reader: TileReader) -> MonitorResult:
        """Verify ``signed_checkpoint`` (policy), its tiles, and that it extends what was seen before."""
        verified = self.policy.verify_checkpoint(signed_checkpoint)
        checkpoint = verified.checkpoint
        tiles = TileHashReader(reader, checkpoint.size)
        check_tiles_match(tiles, verified)
        previous = self.state.get(checkpoint.origin)
        proof_length = 0
        if previous is not None:
            proof_length = self._check_extends(previous, verified, tiles)
        self.state.put(
            checkpoint.origin,
            RememberedCheckpoint(checkpoint.size, checkpoint.root_hash, verified.raw, self.clock()),
        )
        return MonitorResult(verified, previous, proof_length)

    @staticmethod
    def _check_extends(previous: RememberedCheckpoint, verified: VerifiedCheckpoint, tiles: TileHashReader) -> int:
        checkpoint = verified.checkpoint
        old = f"size {previous.size}, root {b64encode(previous.root_hash)} (verified {previous.verified_at})"
        new = f"size {checkpoint.size}, root {checkpoint.root_b64}"
        evidence = (previous.checkpoint, verified.raw)
        if checkpoint.size < previous.size:
            raise RollbackError(
                f"ROLLBACK: {checkpoint.origin} now signs {new}, smaller than the {old} already verified: "
                "the log went back in time",
                evidence,
            )
        if previous.size == 0:
            return 0
        if checkpoint.size == previous.size:
            if checkpoint.root_hash != previous.root_hash:
                raise ForkError(
                    f"FORK: {checkpoint.origin} signed two different trees of size {checkpoint.size}: "
                    f"{old} and now root {checkpoint.root_b64}; at least one entry was changed",
                    evidence,
                )
            return 0
        proof = tiles.consistency_proof(previous.size)
        try:
            verify_consistency(previous.size, checkpoint.size, proof, previous.root_hash, checkpoint.root_hash)
        except ProofError as exc:
            raise ForkError(
                f"FORK: {checkpoint.origin} at {new} does not extend the {old}: history before size "
                f"{previous.size} was rewritten (an entry edited, dropped, swapped or inserted) ({exc})",
                evidence,
            ) from None
        return len(proof)
