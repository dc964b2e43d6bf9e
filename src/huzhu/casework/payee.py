"""Who is paid, under four eyes.

A claim's beneficiary account comes from the member's own account when the claim is filed (staff
cannot file claims). Changing it afterwards — an account the bank rejected, or the heirs a deceased
member's estate procedure names — is a ``PayeeChange``: one staff member (a reviewer or an
administrator) proposes it with a reason, and a *different* one approves or rejects it. Only the
approval touches the claim, and only before the payout has gone to the bank. Every step is kept
(who proposed, who decided, when, why, and the payee it replaced) and the claim's timeline notes it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.accounts.models import Account, Role
from huzhu.claims.errors import ClaimError, PayeeError
from huzhu.claims.models import Claim, ClaimEvent, PayeeChange, PayeeChangeStatus
from huzhu.claims.service import NOTE_PAYEE_CHANGED, claim_or_raise
from huzhu.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from huzhu.notices.models import Case, CaseStatus

PAYEE_ROLES = (Role.REVIEWER, Role.ADMIN)
# Once the payout is with the bank (or done), its creditor is fixed.
PAYOUT_SENT = (CaseStatus.PAYING, CaseStatus.PAID)


def _check_role(actor: Account) -> None:
    if actor.role not in PAYEE_ROLES:
        raise Forbidden(PayeeError.ROLE)


def _check_payout_not_sent(session: Session, claim: Claim) -> None:
    sent = session.scalar(select(Case).where(Case.claim_id == claim.id, Case.status.in_(PAYOUT_SENT)).limit(1))
    if sent is not None:
        raise InvalidTransition(PayeeError.PAYOUT_STARTED, case=sent.case_no, status=sent.status)


def _check_payee(name: str, account: str) -> tuple[str, str]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(ClaimError.BENEFICIARY_NAME)
    if not re.fullmatch(r"\d{12,19}", account or "", re.ASCII):
        raise InvalidInput(ClaimError.BENEFICIARY_ACCOUNT)
    return name, account


def propose(session: Session, *, actor: Account, claim_id: int, beneficiary_name: str, beneficiary_account: str,
            reason: str, now: datetime) -> PayeeChange:
    """A staff member proposes a new payee for a claim, with the reason; nothing is paid differently yet."""
    _check_role(actor)
    name, account = _check_payee(beneficiary_name, beneficiary_account)
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput(PayeeError.REASON)
    claim = claim_or_raise(session, claim_id)
    if (claim.beneficiary_name, claim.beneficiary_account) == (name, account):
        raise InvalidInput(PayeeError.UNCHANGED)
    _check_payout_not_sent(session, claim)
    waiting = session.scalar(select(PayeeChange.id).where(PayeeChange.claim_id == claim.id,
                                                          PayeeChange.status == PayeeChangeStatus.PROPOSED))
    if waiting is not None:
        raise Conflict(PayeeError.ALREADY_OPEN, claim=claim.claim_no)
    change = PayeeChange(claim_id=claim.id, status=PayeeChangeStatus.PROPOSED, beneficiary_name=name,
                         beneficiary_account=account, reason=reason, proposed_by_account_id=actor.id, proposed_at=now)
    session.add(change)
    session.flush()
    return change


def change_or_raise(session: Session, change_id: int) -> PayeeChange:
    change = session.get(PayeeChange, change_id)
    if change is None:
        raise NotFound(PayeeError.NO_SUCH_CHANGE, change=change_id)
    return change


def decide(session: Session, *, actor: Account, change_id: int, approve: bool, note: str,
           now: datetime) -> PayeeChange:
    """A second staff member approves (the claim's payee changes) or rejects a proposed change."""
    _check_role(actor)
    change = change_or_raise(session, change_id)
    if change.status != PayeeChangeStatus.PROPOSED:
        raise InvalidTransition(PayeeError.NOT_OPEN, change=change.id, status=change.status)
    if change.proposed_by_account_id == actor.id:
        raise Forbidden(PayeeError.FOUR_EYES)
    claim = claim_or_raise(session, change.claim_id)
    if approve:
        _check_payout_not_sent(session, claim)
        change.previous_name, change.previous_account = claim.beneficiary_name, claim.beneficiary_account
        claim.beneficiary_name, claim.beneficiary_account = change.beneficiary_name, change.beneficiary_account
        claim.updated_at = now
        session.add(ClaimEvent(claim_id=claim.id, occurred_at=now, from_status=None, to_status=claim.status,
                               actor_account_id=actor.id, note=NOTE_PAYEE_CHANGED % {"change": change.id},
                               public=False))
    change.status = PayeeChangeStatus.APPROVED if approve else PayeeChangeStatus.REJECTED
    change.decided_by_account_id, change.decided_at = actor.id, now
    change.decision_note = (note or "").strip()[:2000]
    session.flush()
    return change


def changes_of(session: Session, claim_id: int) -> list[PayeeChange]:
    return list(session.scalars(select(PayeeChange).where(PayeeChange.claim_id == claim_id).order_by(PayeeChange.id)))
