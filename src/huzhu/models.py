"""Imports every domain's tables so the metadata (and Alembic) sees the whole schema."""

from huzhu.accounts.models import Account, LoginChallengeUse, LoginSession, LoginThrottle, RefreshToken
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.audit.models import PersonalDataRead
from huzhu.claims.models import Claim, ClaimEvent, Evidence, InvestigationReport, PayeeChange, ReviewDecision
from huzhu.complaints.models import Complaint
from huzhu.custody.bank_models import (  # noqa: F401  (the bank integration's tables)
    BankCursor,
    BankEntry,
    CustodyException,
    MemberNotice,
    MemberReference,
    OutgoingPayment,
    StatementImport,
    StatementLine,
    WindDown,
)
from huzhu.custody.models import BankTransaction, CustodyInstruction, Reconciliation
from huzhu.db import Base
from huzhu.http.models import IdempotencyRecord
from huzhu.ledger.models import Entry, LedgerAccount, Transfer
from huzhu.members.models import Enrollment, EnrollmentEvent, Member
from huzhu.notices.models import Case, Objection
from huzhu.numbering import NumberSequence
from huzhu.provable.models import SumTree
from huzhu.sandbox.models import SandboxClock
from huzhu.transparency.models import LogCheckpoint, LogCosignature, LogTile, PublicRecord

__all__ = [
    "Account",
    "ApportionmentRun",
    "BankTransaction",
    "Base",
    "Case",
    "Claim",
    "ClaimEvent",
    "Complaint",
    "CustodyInstruction",
    "Entry",
    "Enrollment",
    "EnrollmentEvent",
    "Evidence",
    "IdempotencyRecord",
    "InvestigationReport",
    "LedgerAccount",
    "LogCheckpoint",
    "LogCosignature",
    "LogTile",
    "LoginChallengeUse",
    "LoginSession",
    "LoginThrottle",
    "Member",
    "NumberSequence",
    "Objection",
    "PayeeChange",
    "PersonalDataRead",
    "PublicRecord",
    "Reconciliation",
    "RefreshToken",
    "ReviewDecision",
    "RunCase",
    "SumTree",
    "SandboxClock",
    "Transfer",
]
