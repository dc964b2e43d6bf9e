"""Complaints: a member writes, an admin answers, the member closes it; auditors read them all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from huzhu.api import schemas as s
from huzhu.api.schemas import MAX_ID
from huzhu.complaints import service as complaints
from huzhu.http.deps import CurrentAccount, NowDep, SessionDep

router = APIRouter(prefix="/complaints", tags=["complaints"])
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("", status_code=201, response_model=s.ComplaintRead, summary="Write a complaint (members)")
def file_complaint(body: s.ComplaintCreate, session: SessionDep, account: CurrentAccount,
                   now: NowDep) -> s.ComplaintRead:
    complaint = complaints.file_complaint(session, actor=account, topic=body.topic, subject=body.subject,
                                          body=body.body, now=now)
    return s.ComplaintRead.model_validate(complaint)


@router.get("", response_model=list[s.ComplaintRead],
            summary="My account's complaints (members); every complaint, open ones first (admins, auditors)")
def list_complaints(session: SessionDep, account: CurrentAccount) -> list[s.ComplaintRead]:
    return [s.ComplaintRead.model_validate(c) for c in complaints.complaints_of(session, actor=account)]


@router.get("/{complaint_id}", response_model=s.ComplaintRead)
def get_complaint(complaint_id: ComplaintId, session: SessionDep, account: CurrentAccount) -> s.ComplaintRead:
    return s.ComplaintRead.model_validate(complaints.complaint_for(session, actor=account, complaint_id=complaint_id))


@router.post("/{complaint_id}/answer", response_model=s.ComplaintRead, summary="Answer an open complaint (admins)")
def answer_complaint(complaint_id: ComplaintId, body: s.ComplaintAnswer, session: SessionDep, account: CurrentAccount,
                     now: NowDep) -> s.ComplaintRead:
    return s.ComplaintRead.model_validate(complaints.answer_complaint(
        session, actor=account, complaint_id=complaint_id, answer=body.answer, now=now))


@router.post("/{complaint_id}/close", response_model=s.ComplaintRead, summary="Close my complaint (members)")
def close_complaint(complaint_id: ComplaintId, session: SessionDep, account: CurrentAccount,
                    now: NowDep) -> s.ComplaintRead:
    return s.ComplaintRead.model_validate(complaints.close_complaint(
        session, actor=account, complaint_id=complaint_id, now=now))
