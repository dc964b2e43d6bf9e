"""Claims: filing, evidence upload, third-party investigation, rule-checked review and decision."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.api import schemas as s
from huzhu.api import views
from huzhu.api.deps import CurrentAccount, NowDep, PlatformDep, SessionDep
from huzhu.api.pagination import Page, PageDep, page_of
from huzhu.api.schemas import MAX_ID
from huzhu.claims import service as claims
from huzhu.claims.models import Claim, Evidence
from huzhu.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound
from huzhu.members.models import Account, Member
from huzhu.money import format_yuan
from huzhu.platform import Platform

router = APIRouter(prefix="/claims", tags=["claims"])
ClaimId = Annotated[int, Path(ge=1, le=MAX_ID)]
STAFF = ("investigator", "reviewer", "admin", "auditor")
EVIDENCE_KINDS = ("medical", "police", "death_certificate", "invoice", "disability_assessment", "other")
# Accepted documents, recognised by their first bytes (the declared content type is not trusted).
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


class PayloadTooLarge(DomainError):
    status_code = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"


def visible_claim(session: Session, account: Account, claim_id: int) -> Claim:
    claim = claims.claim_or_raise(session, claim_id)
    if account.role == "member":
        member = session.get(Member, claim.member_id)
        if member is None or member.account_id != account.id:
            raise NotFound(f"claim {claim_id} does not exist")
    elif account.role not in STAFF:
        raise Forbidden("not allowed")
    return claim


@router.post("", status_code=201, response_model=s.ClaimRead, summary="File a claim for a member of my account")
def file_claim(body: s.ClaimCreate, session: SessionDep, account: CurrentAccount, now: NowDep,
               platform: PlatformDep) -> s.ClaimRead:
    claim = claims.file_claim(
        session, plans=platform.plans, actor=account, member_id=body.member_id, plan_code=body.plan_code,
        benefit_code=body.benefit_code, incident_date=body.incident_date, now=now,
        beneficiary_name=body.beneficiary_name, beneficiary_account=body.beneficiary_account,
        incident_place=body.incident_place, description=body.description, facts=views.facts_in(body.facts),
    )
    return views.claim_read(session, claim)


@router.get("", response_model=Page[s.ClaimRead], summary="My account's claims (staff: all claims)")
def list_claims(
    session: SessionDep, account: CurrentAccount, page: PageDep,
    status: Annotated[Literal["submitted", "investigating", "reviewing", "approved", "rejected"] | None,
                      Query()] = None,
) -> Page[s.ClaimRead]:
    query = select(Claim)
    if account.role == "member":
        query = query.join(Member, Member.id == Claim.member_id).where(Member.account_id == account.id)
    elif account.role not in STAFF:
        raise Forbidden("not allowed")
    if status is not None:
        query = query.where(Claim.status == status)
    rows, cursor = page_of(session, query, Claim.id, page, key=lambda c: c.id)
    return Page(items=[views.claim_read(session, c) for c in rows], next_cursor=cursor)


@router.get("/{claim_id}", response_model=s.ClaimRead)
def get_claim(claim_id: ClaimId, session: SessionDep, account: CurrentAccount) -> s.ClaimRead:
    return views.claim_read(session, visible_claim(session, account, claim_id))


# ---------------------------------------------------------------- evidence


def _evidence_read(e: Evidence) -> s.EvidenceRead:
    return s.EvidenceRead(id=e.id, claim_id=e.claim_id, kind=e.kind, filename=e.filename,
                          content_type=e.content_type, size_bytes=e.size_bytes, sha256=e.sha256,
                          uploaded_at=e.uploaded_at)


def _safe_filename(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = re.sub(r"[^\w.\- ]+", "_", base)[:200]
    return base or "document"


def _store(platform: Platform, upload: UploadFile) -> tuple[str, int, str, FsPath]:
    """Stream the upload to a temporary file within the size limit; returns (sha256, size, type, tmp path)."""
    limit = platform.settings.max_upload_bytes
    folder = platform.settings.data_dir / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False)  # noqa: SIM115
    tmp = FsPath(handle.name)
    try:
        with handle:
            while chunk := upload.file.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"evidence files are limited to {limit // (1024 * 1024)} MiB")
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise InvalidInput("the file is empty")
        detected = next((t for t, sigs in SIGNATURES.items() if any(head.startswith(sig) for sig in sigs)), None)
        if detected is None:
            raise UnsupportedMediaType("evidence must be a PDF, JPEG or PNG document")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size, detected, tmp


@router.post("/{claim_id}/evidence", status_code=201, response_model=s.EvidenceRead,
             summary="Upload a document (PDF, JPEG or PNG; size-limited); its SHA-256 is recorded",
             responses={413: {"description": "file too large"}, 415: {"description": "not a PDF, JPEG or PNG"}})
def upload_evidence(
    claim_id: ClaimId, session: SessionDep, account: CurrentAccount, now: NowDep, platform: PlatformDep,
    file: Annotated[UploadFile, File(description="the document")],
    kind: Annotated[Literal["medical", "police", "death_certificate", "invoice", "disability_assessment", "other"],
                    Form()] = "other",
) -> s.EvidenceRead:
    claim = visible_claim(session, account, claim_id)
    if account.role == "investigator":
        if claim.investigator_account_id != account.id:
            raise Forbidden("only the investigator assigned to this claim can add evidence to it")
    elif account.role != "member":
        raise Forbidden(f"the {account.role} role cannot add evidence")
    if claim.status in ("approved", "rejected"):
        raise InvalidTransition(f"claim {claim.claim_no} is {claim.status}; evidence is closed")
    sha, size, content_type, tmp = _store(platform, file)
    final = platform.settings.data_dir / "evidence" / sha[:2] / sha
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, final)
    evidence = Evidence(
        claim_id=claim.id, kind=kind, filename=_safe_filename(file.filename), content_type=content_type,
        size_bytes=size, sha256=sha, storage_path=f"{sha[:2]}/{sha}", uploaded_by_account_id=account.id,
        uploaded_at=now,
    )
    session.add(evidence)
    session.flush()
    return _evidence_read(evidence)


@router.get("/{claim_id}/evidence", response_model=Page[s.EvidenceRead])
def list_evidence(claim_id: ClaimId, session: SessionDep, account: CurrentAccount,
                  page: PageDep) -> Page[s.EvidenceRead]:
    claim = visible_claim(session, account, claim_id)
    rows, cursor = page_of(session, select(Evidence).where(Evidence.claim_id == claim.id), Evidence.id, page,
                           key=lambda e: e.id, descending=False)
    return Page(items=[_evidence_read(e) for e in rows], next_cursor=cursor)


@router.get("/{claim_id}/evidence/{evidence_id}/content", response_class=FileResponse,
            responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}},
                             "description": "the document"}},
            summary="Download a document (the claim's account, investigators, reviewers, admins)")
def download_evidence(claim_id: ClaimId, evidence_id: ClaimId, session: SessionDep, account: CurrentAccount,
                      platform: PlatformDep) -> FileResponse:
    claim = visible_claim(session, account, claim_id)
    if account.role == "auditor":
        raise Forbidden("auditors see finance, not medical documents")
    evidence = session.get(Evidence, evidence_id)
    if evidence is None or evidence.claim_id != claim.id:
        raise NotFound(f"evidence {evidence_id} does not exist on claim {claim_id}")
    path = platform.settings.data_dir / "evidence" / evidence.storage_path
    if not path.is_file():
        raise NotFound("the stored document is missing")
    return FileResponse(path, media_type=evidence.content_type, filename=evidence.filename,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


# ---------------------------------------------------------------- investigation and review


@router.post("/{claim_id}/investigation", response_model=s.ClaimRead, summary="Start the investigation (investigator)")
def start_investigation(claim_id: ClaimId, session: SessionDep, account: CurrentAccount, now: NowDep) -> s.ClaimRead:
    claim = claims.start_investigation(session, actor=account, claim_id=claim_id, now=now)
    return views.claim_read(session, claim)


@router.post("/{claim_id}/investigation/report", status_code=201, response_model=s.ReportRead,
             summary="Submit the investigation report (the assigned investigator)")
def submit_report(claim_id: ClaimId, body: s.ReportCreate, session: SessionDep, account: CurrentAccount,
                  now: NowDep) -> s.ReportRead:
    report = claims.submit_report(
        session, actor=account, claim_id=claim_id, company=body.company, summary=body.summary,
        confirmed_incident_date=body.confirmed_incident_date, now=now, facts=views.facts_in(body.facts),
    )
    return views.report_read(report)


@router.get("/{claim_id}/investigation/reports", response_model=Page[s.ReportRead])
def list_reports(claim_id: ClaimId, session: SessionDep, account: CurrentAccount, page: PageDep) -> Page[s.ReportRead]:
    from huzhu.claims.models import InvestigationReport

    claim = visible_claim(session, account, claim_id)
    rows, cursor = page_of(session, select(InvestigationReport).where(InvestigationReport.claim_id == claim.id),
                           InvestigationReport.id, page, key=lambda r: r.id)
    return Page(items=[views.report_read(r) for r in rows], next_cursor=cursor)


def _checks(evaluation: claims.ClaimEvaluation) -> list[s.RuleCheckRead]:
    return [s.RuleCheckRead(code=c.code, passed=c.passed, detail=c.detail) for c in evaluation.checks]


@router.get("/{claim_id}/evaluation", response_model=s.EvaluationRead,
            summary="Every plan rule checked against the claim (reviewers, admins, auditors)")
def evaluation(claim_id: ClaimId, session: SessionDep, account: CurrentAccount,
               platform: PlatformDep) -> s.EvaluationRead:
    if account.role not in ("reviewer", "admin", "auditor"):
        raise Forbidden("the rule checks are for reviewers, admins and auditors")
    claim = claims.claim_or_raise(session, claim_id)
    result = claims.evaluate(session, plans=platform.plans, claim=claim)
    return s.EvaluationRead(claim_id=claim.id, passed=result.passed,
                            amount=None if result.amount_fen is None else format_yuan(result.amount_fen),
                            checks=_checks(result))


@router.post("/{claim_id}/decision", response_model=s.DecisionRead,
             summary="Approve at the computed amount (public notice starts) or reject with a reason (reviewer)")
def decide(claim_id: ClaimId, body: s.DecisionCreate, session: SessionDep, account: CurrentAccount, now: NowDep,
           platform: PlatformDep) -> s.DecisionRead:
    from huzhu.claims.models import ReviewDecision

    claim, case = claims.decide(session, plans=platform.plans, actor=account, claim_id=claim_id,
                                approve=body.approve, reason=body.reason, now=now)
    decision = session.scalar(select(ReviewDecision).where(ReviewDecision.claim_id == claim.id)
                              .order_by(ReviewDecision.id.desc()).limit(1))
    assert decision is not None
    return s.DecisionRead(
        claim=views.claim_read(session, claim), decision=decision.decision,
        checks=[s.RuleCheckRead(**c) for c in decision.checks],
        amount=None if decision.computed_amount_fen is None else format_yuan(decision.computed_amount_fen),
        case_no=case.case_no if case else None,
    )
