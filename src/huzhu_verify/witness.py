"""The witness protocol (C2SP tlog-witness, https://c2sp.org/tlog-witness) as pure logic.

A witness keeps, per log origin, the size and root of the latest checkpoint it cosigned, and
cosigns a new checkpoint only if it is validly signed by the log and provably extends that one.
This module owns:

- the ``add-checkpoint`` request body (§add-checkpoint): ``old <size>``, up to 63 base64
  consistency-proof lines, a blank line, then the signed checkpoint
  (:func:`format_add_checkpoint`, :func:`parse_add_checkpoint`);
- the responses: 200 with cosignature lines, 409 ``text/x.tlog.size`` with the witness's size,
  422 a proof or root that does not check, 403 no valid log signature, 404 unknown origin,
  400 malformed (:class:`WitnessResponse`);
- :class:`Witness`, which applies every check in the order the spec lists them and updates its
  state with a compare-and-set, so two racing requests cannot roll it back (§add-checkpoint, the
  race described at its end);
- :class:`JsonFileWitnessState` and :class:`MemoryWitnessState`, the pluggable state stores;
- :func:`request_cosignature`, the log's side of the exchange (one retry after a 409).

An HTTP server only needs to route ``POST <prefix>/add-checkpoint`` to
:meth:`Witness.add_checkpoint` and send the returned status, content type and body.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

try:  # POSIX advisory locks serialise witness processes sharing one state file
    import fcntl
except ImportError:  # pragma: no cover - Windows: only threads within one process are serialised
    fcntl = None  # type: ignore[assignment]

from huzhu_verify._util import atomic_write, b64decode_strict, b64encode, parse_decimal
from huzhu_verify.checkpoint import Checkpoint, parse_checkpoint
from huzhu_verify.cosignature import CosignatureSigner, cosign
from huzhu_verify.errors import MalformedError, ProofError, SignatureError, VerificationError
from huzhu_verify.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from huzhu_verify.note import Signature, Verifier, VerifierSet, add_signature_lines, open_note, parse_note

__all__ = [
    "MAX_PROOF_LINES",
    "AddCheckpointRequest",
    "HTTPWitnessEndpoint",
    "JsonFileWitnessState",
    "MemoryWitnessState",
    "StateConflict",
    "Witness",
    "WitnessEndpoint",
    "WitnessRecord",
    "WitnessResponse",
    "WitnessState",
    "format_add_checkpoint",
    "parse_add_checkpoint",
    "parse_cosignature_response",
    "parse_size_body",
    "request_cosignature",
]

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


# --- request and response bodies ----------------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An ``add-checkpoint`` request: the size the log thinks the witness has, a proof, a checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


def format_add_checkpoint(request: AddCheckpointRequest) -> bytes:
    """The request body of tlog-witness §add-checkpoint."""
    if len(request.proof) > MAX_PROOF_LINES:
        raise MalformedError(f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    head = f"old {request.old_size}\n" + "".join(b64encode(h) + "\n" for h in request.proof) + "\n"
    return head.encode("ascii") + request.checkpoint


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse an ``add-checkpoint`` body; :class:`MalformedError` for anything off-format (→ 400)."""
    try:
        header_end = body.index(b"\n\n")
    except ValueError:
        raise MalformedError("the request has no blank line before the checkpoint") from None
    try:
        lines = body[:header_end].decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise MalformedError("the request's header lines are not ASCII") from None
    if not lines[0].startswith("old "):
        raise MalformedError("the request must start with 'old <size>'")
    old_size = parse_decimal(lines[0][len("old "):], "old size")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedError(f"{len(proof_lines)} consistency proof lines; at most {MAX_PROOF_LINES} allowed")
    proof = []
    for i, line in enumerate(proof_lines):
        value = b64decode_strict(line, f"consistency proof line {i + 1}")
        if len(value) != HASH_SIZE:
            raise MalformedError(f"consistency proof line {i + 1} is not a 32-byte hash")
        proof.append(value)
    return AddCheckpointRequest(old_size, tuple(proof), body[header_end + 2:])


@dataclass(frozen=True)
class WitnessResponse:
    """An HTTP response of the witness: status, content type and body."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def text(cls, status: int, message: str) -> WitnessResponse:
        return cls(status, TEXT_CONTENT_TYPE, (message.rstrip("\n") + "\n").encode("utf-8"))

    @classmethod
    def conflict(cls, size: int) -> WitnessResponse:
        """409: the old size does not match; the body is the witness's latest cosigned size."""
        return cls(409, SIZE_CONTENT_TYPE, f"{size}\n".encode("ascii"))

    @property
    def message(self) -> str:
        return self.body.decode("utf-8", "replace").strip()


def parse_size_body(body: bytes) -> int:
    """The body of a 409 response: a decimal size and a newline."""
    text = body.decode("ascii", "replace")
    if not text.endswith("\n"):
        raise MalformedError("a text/x.tlog.size body must end with a newline")
    return parse_decimal(text[:-1], "witness tree size")


def parse_cosignature_response(body: bytes) -> list[Signature]:
    """The body of a 200 response: one or more note signature lines."""
    if not body.endswith(b"\n"):
        raise MalformedError("a cosignature response must be signature lines ending in a newline")
    _, sigs = parse_note(b"x\n\n" + body)  # the note parser, after a placeholder text and blank line
    return sigs


# --- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessRecord:
    """What a witness remembers of one log: the latest cosigned size, root and checkpoint note."""

    size: int
    root_hash: bytes
    checkpoint: bytes = b""


class StateConflict(Exception):
    """The stored record changed between read and write (another request won the race)."""


class WitnessState(Protocol):
    """Where a witness keeps its latest cosigned checkpoint per origin."""

    def get(self, origin: str) -> WitnessRecord | None: ...

    def compare_and_set(self, origin: str, expected: WitnessRecord | None, new: WitnessRecord) -> None:
        """Store ``new`` if the current record still has ``expected``'s size and root, else raise
        :class:`StateConflict`. Must be atomic and durable before returning."""
        ...


def _same_tree(a: WitnessRecord | None, b: WitnessRecord | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.size, a.root_hash) == (b.size, b.root_hash)


class MemoryWitnessState:
    """In-memory state (tests, or a witness embedded in a process that persists elsewhere)."""

    def __init__(self) -> None:
        self._records: dict[str, WitnessRecord] = {}
        self._lock = threading.Lock()

    def get(self, origin: str) -> WitnessRecord | None:
        with self._lock:
            return self._records.get(origin)

    def compare_and_set(self, origin: str, expected: WitnessRecord | None, new: WitnessRecord) -> None:
        with self._lock:
            if not _same_tree(self._records.get(origin), expected):
                raise StateConflict(origin)
            self._records[origin] = new


class JsonFileWitnessState:
    """State in one JSON file, replaced atomically; an advisory lock file serialises writers.

    Format (UTF-8 JSON)::

        {"format": "huzhu-witness-state/1",
         "logs": {"<origin>": {"size": 123, "root_hash": "<base64>", "checkpoint": "<note>"}}}
    """

    FORMAT = "huzhu-witness-state/1"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._thread_lock = threading.Lock()

    def _load(self) -> dict[str, WitnessRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise MalformedError(f"witness state {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != self.FORMAT or not isinstance(data.get("logs"), dict):
            raise MalformedError(f"witness state {self.path} is not a {self.FORMAT} file")
        records = {}
        for origin, item in data["logs"].items():
            try:
                root = b64decode_strict(item["root_hash"], "stored root hash")
                records[origin] = WitnessRecord(int(item["size"]), root, item.get("checkpoint", "").encode("utf-8"))
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedError(f"witness state {self.path}: bad record for {origin!r}: {exc}") from None
        return records

    def _save(self, records: Mapping[str, WitnessRecord]) -> None:
        logs = {
            origin: {"size": r.size, "root_hash": b64encode(r.root_hash), "checkpoint": r.checkpoint.decode("utf-8")}
            for origin, r in sorted(records.items())
        }
        text = json.dumps({"format": self.FORMAT, "logs": logs}, indent=1, ensure_ascii=False) + "\n"
        atomic_write(self.path, text.encode("utf-8"))

    def get(self, origin: str) -> WitnessRecord | None:
        return self._load().get(origin)

    def compare_and_set(self, origin: str, expected: WitnessRecord | None, new: WitnessRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._thread_lock, open(lock_path, "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                records = self._load()
                if not _same_tree(records.get(origin), expected):
                    raise StateConflict(origin)
                records[origin] = new
                self._save(records)
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


# --- the witness ---------------------------------------------------------------------------------


class Witness:
    """A witness: its cosigning key, the logs it follows (origin → log keys) and its state."""

    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Iterable[Verifier]],
        state: WitnessState,
    ) -> None:
        self.signer = signer
        self.logs = {origin: VerifierSet(keys) for origin, keys in logs.items()}
        self.state = state

    @property
    def name(self) -> str:
        return self.signer.name

    def add_checkpoint(self, body: bytes) -> WitnessResponse:
        """Handle ``POST <prefix>/add-checkpoint`` (tlog-witness §add-checkpoint)."""
        try:
            request = parse_add_checkpoint(body)
            text, _ = parse_note(request.checkpoint)
        except MalformedError as exc:
            return WitnessResponse.text(400, f"malformed request: {exc}")
        origin = text.split("\n", 1)[0]
        keys = self.logs.get(origin)
        if keys is None:
            return WitnessResponse.text(404, f"unknown log {origin!r}")
        try:
            note = open_note(request.checkpoint, keys)
        except SignatureError as exc:
            return WitnessResponse.text(403, f"the checkpoint is not validly signed by the log: {exc}")
        try:
            checkpoint = parse_checkpoint(note.text)
        except MalformedError as exc:
            return WitnessResponse.text(400, f"malformed checkpoint: {exc}")
        if request.old_size > checkpoint.size:
            return WitnessResponse.text(400, f"old size {request.old_size} is larger than the checkpoint's {checkpoint.size}")
        current = self.state.get(origin)
        known_size = current.size if current else 0
        if request.old_size != known_size:
            return WitnessResponse.conflict(known_size)
        refusal = self._check_extension(request, checkpoint, current)
        if refusal is not None:
            return refusal
        return self._cosign_and_store(origin, request, checkpoint, current)

    def _check_extension(
        self, request: AddCheckpointRequest, checkpoint: Checkpoint, current: WitnessRecord | None
    ) -> WitnessResponse | None:
        if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
            return WitnessResponse.text(422, "a checkpoint of size 0 must have the empty tree's root")
        if request.old_size == 0 or current is None:  # current is None only when old_size is 0
            if request.proof:
                return WitnessResponse.text(422, "a consistency proof from size 0 must be empty")
            return None
        try:
            verify_consistency(current.size, checkpoint.size, request.proof, current.root_hash, checkpoint.root_hash)
        except ProofError as exc:
            return WitnessResponse.text(
                422,
                f"refused: checkpoint {checkpoint.describe()} is not an extension of the cosigned "
                f"size {current.size}, root {b64encode(current.root_hash)}: {exc}",
            )
        return None

    def _cosign_and_store(
        self, origin: str, request: AddCheckpointRequest, checkpoint: Checkpoint, current: WitnessRecord | None
    ) -> WitnessResponse:
        signature = cosign(checkpoint.to_text(), self.signer)
        stored = add_signature_lines(request.checkpoint, [signature.line])
        try:
            self.state.compare_and_set(origin, current, WitnessRecord(checkpoint.size, checkpoint.root_hash, stored))
        except StateConflict:
            latest = self.state.get(origin)
            return WitnessResponse.conflict(latest.size if latest else 0)
        return WitnessResponse(200, TEXT_CONTENT_TYPE, signature.line.encode("utf-8"))

    def latest_checkpoint(self, origin: str) -> bytes | None:
        """The latest cosigned checkpoint, with the log's and this witness's signatures (§Monitor Retrieval)."""
        record = self.state.get(origin)
        return record.checkpoint if record else None


# --- the log's side ------------------------------------------------------------------------------


class WitnessEndpoint(Protocol):
    """Something that answers add-checkpoint requests: a :class:`Witness`, or one over HTTP."""

    def add_checkpoint(self, body: bytes) -> WitnessResponse: ...


class HTTPWitnessEndpoint:
    """POSTs add-checkpoint requests to ``<submission prefix>/add-checkpoint`` with urllib."""

    def __init__(self, submission_prefix: str, *, timeout: float = 30.0) -> None:
        self.url = submission_prefix.rstrip("/") + "/add-checkpoint"
        self.timeout = timeout

    def add_checkpoint(self, body: bytes) -> WitnessResponse:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={"User-Agent": "huzhu"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return WitnessResponse(response.status, response.headers.get("Content-Type", ""), response.read())
        except urllib.error.HTTPError as exc:
            return WitnessResponse(exc.code, exc.headers.get("Content-Type", ""), exc.read())


def request_cosignature(
    endpoint: WitnessEndpoint,
    witness_key: Verifier,
    signed_checkpoint: bytes,
    checkpoint: Checkpoint,
    *,
    old_size: int,
    prove: Callable[[int], Sequence[bytes]],
) -> Signature:
    """Ask one witness to cosign; returns its verified cosignature.

    ``old_size`` is the size the log believes the witness has; after a 409 the exchange is retried
    once with the size the witness reports. ``prove(m)`` returns the consistency proof from size m
    to the checkpoint's size. Raises :class:`VerificationError` with the witness's answer if it
    refuses or its cosignature does not verify.
    """
    response = endpoint.add_checkpoint(_request_body(signed_checkpoint, checkpoint, old_size, prove))
    if response.status == 409:
        witness_size = parse_size_body(response.body)
        if witness_size > checkpoint.size:
            raise VerificationError(
                f"witness {witness_key.name} has cosigned size {witness_size}, larger than this checkpoint "
                f"({checkpoint.size}): the log is behind what it already published"
            )
        response = endpoint.add_checkpoint(_request_body(signed_checkpoint, checkpoint, witness_size, prove))
    if response.status != 200:
        raise VerificationError(f"witness {witness_key.name} refused (HTTP {response.status}): {response.message}")
    text = checkpoint.to_text().encode("utf-8")
    for sig in parse_cosignature_response(response.body):
        if (sig.name, sig.key_hash) == (witness_key.name, witness_key.key_hash):
            if witness_key.verify(text, sig.raw):
                return sig
            raise VerificationError(f"witness {witness_key.name} returned a cosignature that does not verify")
    raise VerificationError(f"witness {witness_key.name} answered without a cosignature by its key")


def _request_body(
    signed_checkpoint: bytes, checkpoint: Checkpoint, old_size: int, prove: Callable[[int], Sequence[bytes]]
) -> bytes:
    proof = tuple(prove(old_size)) if 0 < old_size < checkpoint.size else ()
    return format_add_checkpoint(AddCheckpointRequest(old_size, proof, signed_checkpoint))
