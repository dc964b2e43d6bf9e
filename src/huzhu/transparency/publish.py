"""Publishing the signed log: static tlog-tiles files, and witness cosignatures.

:func:`publish_tiles` writes the log up to its latest signed checkpoint into a directory with
:class:`~huzhu.transparency.tiles.TileLogWriter` (incremental: only entries after the directory's
own checkpoint are appended, so only new full tiles, the partial tiles and the checkpoint are
written). The writer signs the same checkpoint text with the same key; Ed25519 signatures are
deterministic, so its note is byte for byte the one stored in the database, which is then written
with the witnesses' cosignatures. The log's verifier key goes beside it (``huzhu-log-key``).

:func:`collect_cosignatures` sends the latest checkpoint to each configured witness (C2SP
tlog-witness ``add-checkpoint``, with a consistency proof from the size the witness last cosigned)
and stores each verified cosignature, or an empty answer for a witness that is down or refuses (it
is asked again next round). :class:`WitnessRounds` runs such a round after every commit that signed
a checkpoint, in a background thread, so no money job waits for a witness; readers are served the
newest checkpoint whose round is over (:func:`huzhu.transparency.log.served_checkpoint`).
"""

from __future__ import annotations

import logging
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from huzhu.errors import Conflict, NotFound
from huzhu.transparency.errors import LogError
from huzhu.transparency.log import (
    DbTileReader,
    checkpoint_with_cosignatures,
    latest_checkpoint,
    served_checkpoint,
    store_cosignature,
)
from huzhu.transparency.models import LogCosignature, PublicRecord
from huzhu.transparency.tiles import TileLogWriter
from huzhu_verify._util import atomic_write
from huzhu_verify.checkpoint import parse_checkpoint
from huzhu_verify.cosignature import CosignatureVerifier
from huzhu_verify.errors import VerificationError
from huzhu_verify.note import Ed25519Signer, parse_note
from huzhu_verify.tiles import TileHashReader
from huzhu_verify.witness import HTTPWitnessEndpoint, WitnessEndpoint, WitnessResponse, request_cosignature

KEY_FILE = "huzhu-log-key"


@dataclass(frozen=True)
class Published:
    previous_size: int
    tree_size: int
    root_hash: str


def publish_tiles(session: Session, directory: Path, signer: Ed25519Signer, *, durable: bool = True) -> Published:
    """Bring ``directory`` up to the served checkpoint (see the module docstring)."""
    row = served_checkpoint(session)
    if row is None:
        raise NotFound(LogError.NO_CHECKPOINT)
    directory = Path(directory)
    with TileLogWriter(directory, signer, durable=durable) as writer:
        previous = writer.size
        if previous > row.tree_size:
            raise Conflict(LogError.DIRECTORY_LARGER, directory=directory, previous=previous, size=row.tree_size)
        payloads = session.scalars(select(PublicRecord.payload).where(PublicRecord.leaf_index >= previous,
                                                                      PublicRecord.leaf_index < row.tree_size)
                                   .order_by(PublicRecord.leaf_index)).yield_per(5000)
        writer.append(p.encode("utf-8") for p in payloads)
        if writer.size != row.tree_size:
            raise Conflict(LogError.RECORDS_MISSING, reached=writer.size, size=row.tree_size)
        publication = writer.publish()
        if publication.note.decode("utf-8") != row.note:
            raise Conflict(LogError.TILES_MISMATCH, directory=directory, size=row.tree_size)
        atomic_write(directory / "checkpoint", checkpoint_with_cosignatures(session, row).encode("utf-8"),
                     durable=durable)
    atomic_write(directory / KEY_FILE, (signer.verifier.vkey + "\n").encode("ascii"), durable=durable)
    return Published(previous, row.tree_size, row.root_hash)


@dataclass(frozen=True)
class WitnessConfig:
    key: CosignatureVerifier
    endpoint: WitnessEndpoint


class TlsWitnessEndpoint:
    """A witness over HTTPS presenting a client certificate (the custodian bank's mutual TLS)."""

    def __init__(self, submission_prefix: str, context: ssl.SSLContext, *, timeout: float = 30.0) -> None:
        self.url = submission_prefix.rstrip("/") + "/add-checkpoint"
        self.context = context
        self.timeout = timeout

    def add_checkpoint(self, body: bytes) -> WitnessResponse:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={"User-Agent": "huzhu"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return WitnessResponse(response.status, response.headers.get("Content-Type", ""), response.read())
        except urllib.error.HTTPError as exc:
            return WitnessResponse(exc.code, exc.headers.get("Content-Type", ""), exc.read())


def parse_witnesses(entries: Sequence[str], tls: str = "") -> list[WitnessConfig]:
    """``"<witness verifier key> <submission URL prefix>"`` each (the setting HUZHU_LOG_WITNESSES).

    ``tls`` is ``"<CA file> <client certificate> <client key>"`` (HUZHU_LOG_WITNESS_TLS): https
    witnesses are then reached with that CA and client certificate (the custodian bank's mTLS)."""
    context = None
    if tls.strip():
        ca, cert, key = tls.split()
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
    found = []
    for entry in entries:
        parts = entry.split()
        if len(parts) != 2:
            raise ValueError(f"a witness is '<verifier key> <URL>', got {entry!r}")
        endpoint: WitnessEndpoint = (TlsWitnessEndpoint(parts[1], context) if context and parts[1].startswith("https:")
                                     else HTTPWitnessEndpoint(parts[1]))
        found.append(WitnessConfig(CosignatureVerifier.from_vkey(parts[0]), endpoint))
    return found


def collect_cosignatures(factory: sessionmaker[Session], read_factory: sessionmaker[Session],
                         witnesses: Sequence[WitnessConfig], *, now: Callable[[], datetime]) -> list[str]:
    """Ask each witness to cosign the latest checkpoint; returns the refusals (empty = all cosigned).

    The witnesses are asked from a read session (no writer's turn is held during the network calls);
    each cosignature is stored in its own short write transaction."""
    failures: list[str] = []
    with read_factory() as session:
        row = latest_checkpoint(session)
        if row is None or row.tree_size == 0:
            return failures
        note, size = row.note.encode("utf-8"), row.tree_size
        text, _ = parse_note(note)
        checkpoint = parse_checkpoint(text)
        tiles = TileHashReader(DbTileReader(session), size)
        for witness in witnesses:
            name = witness.key.name
            if session.scalar(select(LogCosignature.id).where(LogCosignature.tree_size == size,
                                                              LogCosignature.witness == name,
                                                              LogCosignature.line != "")):
                continue
            old = session.scalar(select(LogCosignature.tree_size).where(LogCosignature.witness == name,
                                                                       LogCosignature.line != "")
                                 .order_by(LogCosignature.tree_size.desc()).limit(1)) or 0
            line = ""
            try:
                line = request_cosignature(witness.endpoint, witness.key, note, checkpoint, old_size=old,
                                           prove=lambda m: tiles.consistency_proof(m, size)).line
            except (VerificationError, OSError) as exc:
                failures.append(f"{name}: {exc}")
            try:  # the answer, even a refusal: the round for this checkpoint is over for this witness
                with factory() as writing, writing.begin():
                    store_cosignature(writing, size, name, line, now=now())
            except IntegrityError:  # another process stored this witness's answer at the same moment
                pass
    return failures


log = logging.getLogger("huzhu.log")


class WitnessRounds:
    """Asks the witnesses to cosign the newest checkpoint after each commit that signed one.

    ``request()`` (called after such a commit) starts a round in a background thread and returns at
    once: a money job never waits for a witness. One round runs at a time; requests made during a
    round make exactly one more round after it (which asks about the newest checkpoint then).
    ``run()`` runs a round now, after any round under way (``huzhu log checkpoint``, ``huzhu jobs run``).
    """

    def __init__(self, witnesses: Sequence[WitnessConfig], *, now: Callable[[], datetime]) -> None:
        self.witnesses = list(witnesses)
        self.now = now
        self.factories: tuple[sessionmaker[Session], sessionmaker[Session]] | None = None
        self._round = threading.Lock()
        self._state = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    @property
    def names(self) -> list[str]:
        return [w.key.name for w in self.witnesses]

    def bind(self, factory: sessionmaker[Session], read_factory: sessionmaker[Session]) -> None:
        self.factories = (factory, read_factory)

    def run(self) -> list[str]:
        """One round now; returns the refusals (empty = every witness cosigned the newest checkpoint)."""
        if self.factories is None:
            return []
        with self._round:
            return collect_cosignatures(*self.factories, self.witnesses, now=self.now)

    def request(self) -> None:
        with self._state:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._loop, name="huzhu-witness-rounds", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Until no round is under way or requested (tests, and before a synchronous round)."""
        with self._state:
            thread = self._thread
        while thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return
            with self._state:
                thread = self._thread

    def _loop(self) -> None:
        while True:
            try:
                for refusal in self.run():
                    log.warning("public log: witness did not cosign: %s", refusal)
            except Exception:  # a round must never take the process down; retried next commit
                log.exception("public log: witness round failed")
            with self._state:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
