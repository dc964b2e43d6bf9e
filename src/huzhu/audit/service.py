"""Recording and listing staff reads of personal data. Services only flush."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from huzhu.accounts.models import STAFF_ROLES, Account
from huzhu.audit.models import Channel, PersonalDataRead, ReadSubject

MAX_IDS = 500  # a page lists at most 200 rows; more ids than this are cut (the count is kept)


def needs_record(account: Account) -> bool:
    """Staff reads are recorded; a member reading their own data is not."""
    return account.role in STAFF_ROLES


def record_read(session: Session, *, account: Account, subject: ReadSubject, ids: Iterable[int], channel: Channel,
                path: str, now: datetime) -> PersonalDataRead | None:
    """One row for one staff read (of one or many records of a kind); ``None`` for a non-staff reader."""
    if not needs_record(account):
        return None
    listed = sorted({int(i) for i in ids})
    row = PersonalDataRead(account_id=account.id, role=account.role, subject=subject, subject_ids=listed[:MAX_IDS],
                           channel=channel, path=path[:300], read_at=now)
    session.add(row)
    session.flush()
    return row


def reads_query(*, account_id: int | None = None, subject: ReadSubject | None = None) -> Select[tuple[PersonalDataRead]]:
    query: Select[tuple[PersonalDataRead]] = select(PersonalDataRead)
    if account_id is not None:
        query = query.where(PersonalDataRead.account_id == account_id)
    if subject is not None:
        query = query.where(PersonalDataRead.subject == subject)
    return query


def latest_reads(session: Session, *, limit: int = 200) -> list[PersonalDataRead]:
    return list(session.scalars(reads_query().order_by(PersonalDataRead.id.desc()).limit(limit)))
