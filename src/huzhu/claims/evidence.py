"""Evidence documents: the one store every adapter (API, web pages, demo) uses.

A document is checked while it streams in (size limit, and its first bytes must be a PDF, JPEG or
PNG signature: the declared content type is not trusted), then kept **content-addressed** at
``<data dir>/evidence/<first two hex>/<sha256>`` with mode 0600. The row records that path relative
to the evidence folder, so a copy of the data directory restored elsewhere still finds every file.
Files are **sealed** as they stream in (``huzhu.sealing.files``: AES-256-GCM in chunks, under the
keyring's current key) and opened as they stream out: no document is ever on disk in clear.

Who may add a document, and when, and who may read one, is decided here too.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from huzhu.accounts.models import Account, Role
from huzhu.claims.errors import ClaimError, EvidenceError
from huzhu.claims.models import Claim, ClaimStatus, Evidence, EvidenceKind
from huzhu.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound
from huzhu.members.models import Member
from huzhu.messages import OneOf
from huzhu.sealing.files import SealingWriter, open_chunks
from huzhu.sealing.keyring import Keyring

FILE_MODE = 0o600
CHUNK = 1024 * 1024
# The first bytes of each accepted kind of document.
SIGNATURES: dict[str, bytes] = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}
_STORED_PATH = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")


class PayloadTooLarge(DomainError):
    status_code = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"


@dataclass(frozen=True)
class StagedFile:
    """A checked upload waiting in the store's staging area for its row."""

    path: Path
    sha256: str
    size: int
    content_type: str
    filename: str


def safe_filename(name: str | None) -> str:
    """The client's file name without any folder part or odd characters (shown, never used as a path)."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = re.sub(r"[^\w.\- ]+", "_", base)[:200]
    return base or "document"


class EvidenceStore:
    def __init__(self, root: Path, *, max_bytes: int, keyring: Keyring) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.keyring = keyring

    def stage(self, stream: BinaryIO, filename: str | None) -> StagedFile:
        """Stream an upload into a staging file, checking its size and kind as it arrives.
        Refused uploads leave nothing behind."""
        name = safe_filename(filename)
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size, head = hashlib.sha256(), 0, b""
        handle = tempfile.NamedTemporaryFile(dir=self.root, prefix=".upload-", delete=False)  # noqa: SIM115
        staged = Path(handle.name)
        try:
            with handle:
                sealing = SealingWriter(handle, self.keyring)  # type: ignore[arg-type]
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLarge(EvidenceError.TOO_LARGE, name=name,
                                              mb=f"{self.max_bytes / 1024 / 1024:.1f}")
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                    digest.update(chunk)
                    sealing.write(chunk)
                sealing.close()
            if size == 0:
                raise InvalidInput(EvidenceError.EMPTY, name=name)
            content_type = next((kind for kind, sig in SIGNATURES.items() if head.startswith(sig)), None)
            if content_type is None:
                raise UnsupportedMediaType(EvidenceError.FILE_TYPE, name=name)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return StagedFile(path=staged, sha256=digest.hexdigest(), size=size, content_type=content_type,
                          filename=name)

    def stage_bytes(self, data: bytes, filename: str) -> StagedFile:
        """The same checks for a document already in memory (the demo, imports)."""
        import io

        return self.stage(io.BytesIO(data), filename)

    def discard(self, staged: StagedFile) -> None:
        staged.path.unlink(missing_ok=True)

    def keep(self, staged: StagedFile) -> str:
        """Move a staged file to its content address; returns the stored path (relative)."""
        relative = f"{staged.sha256[:2]}/{staged.sha256}"
        final = self.root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # the same document again: one copy is enough
            staged.path.unlink(missing_ok=True)
        else:
            os.chmod(staged.path, FILE_MODE)
            os.replace(staged.path, final)
        return relative

    def path_of(self, evidence: Evidence) -> Path:
        if not _STORED_PATH.match(evidence.storage_path):
            raise NotFound(EvidenceError.MISSING)
        path = self.root / evidence.storage_path
        if not path.is_file():
            raise NotFound(EvidenceError.MISSING)
        return path

    def chunks(self, evidence: Evidence) -> Iterator[bytes]:
        """The document in clear, streamed chunk by chunk from its sealed file. The first chunk is
        opened before this returns, so a key that cannot open the file fails before any response starts."""
        stream = open_chunks(self.path_of(evidence), self.keyring)
        first = next(stream)

        def rest() -> Iterator[bytes]:
            yield first
            yield from stream

        return rest()

    def read_bytes(self, evidence: Evidence) -> bytes:
        return b"".join(self.chunks(evidence))


# ---------------------------------------------------------------- who may add and read


UPLOAD_OPEN_STATES = (ClaimStatus.SUBMITTED, ClaimStatus.INVESTIGATING)


def _owner_account_id(session: Session, claim: Claim) -> int | None:
    member = session.get(Member, claim.member_id)
    return member.account_id if member is not None else None


def check_may_add(session: Session, *, actor: Account, claim: Claim) -> None:
    """The claim's own account while the claim is open for documents; the assigned investigator
    while investigating. Documents close when the investigation report is in."""
    if actor.role == Role.MEMBER:
        if _owner_account_id(session, claim) != actor.id:
            raise NotFound(ClaimError.NO_SUCH_CLAIM, claim=claim.id)
    elif actor.role == Role.INVESTIGATOR:
        if claim.investigator_account_id != actor.id:
            raise Forbidden(EvidenceError.NOT_ASSIGNED)
    else:
        raise Forbidden(EvidenceError.ROLE_CANNOT_ADD, role=actor.role)
    if claim.status not in UPLOAD_OPEN_STATES:
        raise InvalidTransition(EvidenceError.CLOSED, claim=claim.claim_no, status=claim.status)


def add_evidence(
    session: Session, store: EvidenceStore, *, actor: Account, claim: Claim, staged: StagedFile,
    kind: str | EvidenceKind, now: datetime,
) -> Evidence:
    """Record a staged document on a claim (the file moves to its content address)."""
    check_may_add(session, actor=actor, claim=claim)
    try:
        kind = EvidenceKind(kind)
    except ValueError:
        raise InvalidInput(EvidenceError.KIND, kinds=OneOf(EvidenceKind)) from None
    evidence = Evidence(
        claim_id=claim.id, kind=kind, filename=staged.filename, content_type=staged.content_type,
        size_bytes=staged.size, sha256=staged.sha256, storage_path=store.keep(staged),
        uploaded_by_account_id=actor.id, uploaded_at=now,
    )
    session.add(evidence)
    session.flush()
    return evidence


def check_may_read(session: Session, *, actor: Account, claim: Claim) -> None:
    """The claim's own account, the investigator assigned to it, reviewers and admins; never
    auditors (they see finance, not medical documents). Every staff read is recorded by the
    adapters (``huzhu.audit``)."""
    if actor.role == Role.MEMBER:
        if _owner_account_id(session, claim) != actor.id:
            raise NotFound(ClaimError.NO_SUCH_CLAIM, claim=claim.id)
    elif actor.role == Role.INVESTIGATOR:
        if claim.investigator_account_id != actor.id:
            raise Forbidden(EvidenceError.NOT_ASSIGNED_READ)
    elif actor.role == Role.AUDITOR:
        raise Forbidden(EvidenceError.AUDITORS)
    elif actor.role not in (Role.INVESTIGATOR, Role.REVIEWER, Role.ADMIN):
        raise Forbidden(ClaimError.NOT_ALLOWED)


def open_evidence(session: Session, store: EvidenceStore, *, actor: Account, evidence_id: int,
                  claim_id: int | None = None) -> tuple[Evidence, Path]:
    """A document and its file, for someone allowed to read it."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None or (claim_id is not None and evidence.claim_id != claim_id):
        raise NotFound(EvidenceError.NO_SUCH_EVIDENCE, evidence=evidence_id)
    claim = session.get(Claim, evidence.claim_id)
    assert claim is not None
    check_may_read(session, actor=actor, claim=claim)
    return evidence, store.path_of(evidence)
