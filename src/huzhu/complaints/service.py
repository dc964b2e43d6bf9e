"""Filing, answering and closing complaints. A member sees only their account's complaints; admins
answer; auditors read every complaint (they check how the platform treats its members)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.accounts.models import Account, Role
from huzhu.accounts.service import require_role
from huzhu.complaints.errors import ComplaintError
from huzhu.complaints.models import Complaint, ComplaintStatus, ComplaintTopic
from huzhu.errors import InvalidInput, InvalidTransition, NotFound
from huzhu.numbering import next_number

READERS = (Role.ADMIN, Role.AUDITOR)


def file_complaint(session: Session, *, actor: Account, topic: str, subject: str, body: str,
                   now: datetime) -> Complaint:
    require_role(actor, Role.MEMBER)
    try:
        chosen = ComplaintTopic(topic)
    except ValueError:
        raise InvalidInput(ComplaintError.TOPIC) from None
    subject, body = (subject or "").strip(), (body or "").strip()
    if not 2 <= len(subject) <= 200:
        raise InvalidInput(ComplaintError.SUBJECT_LENGTH)
    if not 5 <= len(body) <= 5000:
        raise InvalidInput(ComplaintError.BODY_LENGTH)
    complaint = Complaint(complaint_no="pending-" + uuid.uuid4().hex[:16], account_id=actor.id, topic=chosen,
                          subject=subject, body=body, status=ComplaintStatus.OPEN, filed_at=now)
    session.add(complaint)
    session.flush()
    complaint.complaint_no = f"HZT{next_number(session, 'complaint'):06d}"
    session.flush()
    return complaint


def complaint_for(session: Session, *, actor: Account, complaint_id: int) -> Complaint:
    """A complaint as its own account or finance staff see it (anyone else's look absent)."""
    complaint = session.get(Complaint, complaint_id)
    visible = complaint is not None and (complaint.account_id == actor.id if actor.role == Role.MEMBER
                                         else actor.role in READERS)
    if not visible:
        raise NotFound(ComplaintError.NO_SUCH_COMPLAINT, complaint=complaint_id)
    assert complaint is not None
    return complaint


def complaints_of(session: Session, *, actor: Account) -> list[Complaint]:
    """The account's own complaints (a member), or every complaint, open ones first (admins, auditors)."""
    if actor.role == Role.MEMBER:
        query = select(Complaint).where(Complaint.account_id == actor.id).order_by(Complaint.filed_at.desc(),
                                                                                   Complaint.id.desc())
    else:
        require_role(actor, *READERS)
        query = select(Complaint).order_by(Complaint.status != ComplaintStatus.OPEN, Complaint.filed_at,
                                           Complaint.id)
    return list(session.scalars(query.limit(500)))


def answer_complaint(session: Session, *, actor: Account, complaint_id: int, answer: str,
                     now: datetime) -> Complaint:
    require_role(actor, Role.ADMIN)
    complaint = complaint_for(session, actor=actor, complaint_id=complaint_id)
    if complaint.status != ComplaintStatus.OPEN:
        raise InvalidTransition(ComplaintError.NOT_OPEN, complaint=complaint.complaint_no, status=complaint.status)
    answer = (answer or "").strip()
    if not 2 <= len(answer) <= 5000:
        raise InvalidInput(ComplaintError.ANSWER_LENGTH)
    complaint.answer, complaint.answered_by_account_id, complaint.answered_at = answer, actor.id, now
    complaint.status = ComplaintStatus.ANSWERED
    session.flush()
    return complaint


def close_complaint(session: Session, *, actor: Account, complaint_id: int, now: datetime) -> Complaint:
    """The member is done with it (answered or not)."""
    require_role(actor, Role.MEMBER)
    complaint = complaint_for(session, actor=actor, complaint_id=complaint_id)
    if complaint.status == ComplaintStatus.CLOSED:
        raise InvalidTransition(ComplaintError.ALREADY_CLOSED, complaint=complaint.complaint_no)
    complaint.status, complaint.closed_at = ComplaintStatus.CLOSED, now
    session.flush()
    return complaint
