"""The engine's codes and values in the page's language.

* ``message_text``: a ``MessageCode`` with its values: the text comes from the catalog entry whose
  ``msgctxt`` is the code and ``msgid`` the English template (the English catalog leaves them
  untranslated, so English pages read the template itself); the values are filled in as ``word``
  shows them.
* ``word``: one value: an enum member by its label (``LABELS``), a ``Name`` in the page's language,
  a nested ``Message`` by its code, dates in the language's long form, lists joined the way the
  language joins them.
* ``error_text``: a ``DomainError`` by its code. One raised the old way (an English sentence, no
  code of its own) reads as that sentence on English pages and as its generic code's text on others.

Every code and every label here must have a Chinese text: ``tests/unit/test_error_messages.py``
walks them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from babel.lists import format_list

from huzhu.accounts.models import Role
from huzhu.audit.models import ReadSubject
from huzhu.claims.models import ClaimStatus, Decision, EvidenceKind, PayeeChangeStatus
from huzhu.complaints.models import ComplaintStatus, ComplaintTopic
from huzhu.errors import DomainError
from huzhu.members.models import CoverageState, EnrollmentStatus, Relationship
from huzhu.messages import Message, MessageCode, Name, OneOf
from huzhu.money import AmountField
from huzhu.notices.models import CaseStatus, NoticeState, ObjectionStatus
from huzhu.plans.rules import Check, Fact
from huzhu.web.i18n import N_, fmt_date, fmt_datetime, translations

# One English label per member of every enum a page shows (as a word inside a sentence or on its
# own); the catalogs translate them.
LABELS: dict[type[Enum], dict[Any, str]] = {
    Role: {
        Role.MEMBER: N_("member"), Role.INVESTIGATOR: N_("investigator"), Role.REVIEWER: N_("reviewer"),
        Role.ADMIN: N_("administrator"), Role.AUDITOR: N_("auditor"),
    },
    Relationship: {
        Relationship.SELF: N_("Myself"), Relationship.SPOUSE: N_("Spouse"), Relationship.CHILD: N_("Child"),
        Relationship.PARENT: N_("Parent"),
    },
    EnrollmentStatus: {
        EnrollmentStatus.ACTIVE: N_("active"), EnrollmentStatus.SUSPENDED: N_("suspended"),
        EnrollmentStatus.LEFT: N_("left"),
    },
    CoverageState: {
        CoverageState.WAITING: N_("waiting"), CoverageState.IN_FORCE: N_("in force"),
        CoverageState.SUSPENDED: N_("suspended"), CoverageState.LEFT: N_("left"),
    },
    ClaimStatus: {
        ClaimStatus.SUBMITTED: N_("submitted"), ClaimStatus.INVESTIGATING: N_("being investigated"),
        ClaimStatus.REVIEWING: N_("in review"), ClaimStatus.APPROVED: N_("approved"),
        ClaimStatus.REJECTED: N_("rejected"),
    },
    Decision: {Decision.APPROVE: N_("Approve"), Decision.REJECT: N_("Reject")},
    PayeeChangeStatus: {
        PayeeChangeStatus.PROPOSED: N_("proposed"), PayeeChangeStatus.APPROVED: N_("approved"),
        PayeeChangeStatus.REJECTED: N_("rejected"),
    },
    ReadSubject: {
        ReadSubject.CLAIM: N_("Claim"), ReadSubject.EVIDENCE: N_("Documents"),
        ReadSubject.INVESTIGATION_REPORT: N_("Investigation report"), ReadSubject.MEMBER: N_("Member's details"),
        ReadSubject.MEMBER_LEDGER: N_("Member's money in and out"), ReadSubject.OBJECTION: N_("Objection"),
        ReadSubject.PAYEE_CHANGE: N_("Change of payee"),
    },
    EvidenceKind: {
        EvidenceKind.MEDICAL: N_("Medical record"), EvidenceKind.POLICE: N_("Police or accident report"),
        EvidenceKind.DEATH_CERTIFICATE: N_("Death certificate"), EvidenceKind.INVOICE: N_("Invoice"),
        EvidenceKind.DISABILITY_ASSESSMENT: N_("Disability assessment"), EvidenceKind.OTHER: N_("Other"),
    },
    CaseStatus: {
        CaseStatus.IN_NOTICE: N_("in public notice"), CaseStatus.SHARED: N_("shared"),
        CaseStatus.PAYING: N_("being paid"), CaseStatus.PAID: N_("paid"), CaseStatus.WITHDRAWN: N_("withdrawn"),
    },
    ObjectionStatus: {
        ObjectionStatus.OPEN: N_("open"), ObjectionStatus.UPHELD: N_("upheld"),
        ObjectionStatus.DISMISSED: N_("dismissed"),
    },
    NoticeState: {
        NoticeState.RUNNING: N_("in public notice"), NoticeState.HELD: N_("waiting for an objection to be resolved"),
        NoticeState.DUE: N_("notice over: shared in the next run"),
    },
    ComplaintStatus: {
        ComplaintStatus.OPEN: N_("waiting for an answer"), ComplaintStatus.ANSWERED: N_("answered"),
        ComplaintStatus.CLOSED: N_("closed"),
    },
    ComplaintTopic: {
        ComplaintTopic.CLAIM: N_("A claim"), ComplaintTopic.MONEY: N_("Money and balances"),
        ComplaintTopic.OBJECTION: N_("An objection or a case"), ComplaintTopic.PRIVACY: N_("Privacy"),
        ComplaintTopic.SERVICE: N_("The service"), ComplaintTopic.OTHER: N_("Something else"),
    },
    AmountField: {
        AmountField.AMOUNT: N_("amount"), AmountField.LOSS: N_("loss"),
        AmountField.INSURANCE_PAID: N_("insurance paid"), AmountField.BALANCE: N_("balance"),
    },
    Check: {
        Check.BENEFIT_COVERED: N_("The plan covers this aid"),
        Check.ENROLLMENT_ACTIVE: N_("The member was covered on the incident date"),
        Check.IN_FORCE: N_("The waiting period was over"),
        Check.FACTS_COMPLETE: N_("The facts the rule needs are known"),
        Check.AMOUNT: N_("Amount computed by the rule"),
    },
    Fact: {
        Fact.DISABILITY_GRADES: N_("disability grades"), Fact.AGE_AT_INCIDENT: N_("age at the incident"),
        Fact.LOSS: N_("loss"), Fact.FAULT_SHARE: N_("share of fault"), Fact.INSURANCE_PAID: N_("insurance paid"),
    },
}


ENUMS = (Role, Relationship, EnrollmentStatus, CoverageState, ClaimStatus, Decision, EvidenceKind, CaseStatus,
         ObjectionStatus, NoticeState, ComplaintStatus, ComplaintTopic)
"""The states templates compare with (Jinja globals)."""


def label(locale: str, value: Enum) -> str:
    """An enum member's label in the page's language (its value when it has none)."""
    text = LABELS.get(type(value), {}).get(value)
    return translations(locale).gettext(text) if text else str(value.value)


def word(locale: str, value: object) -> str:
    """One value of a message as the page shows it."""
    if isinstance(value, Message):
        return message_text(locale, value.code, value.params)
    if isinstance(value, Name):
        return value.zh if locale == "zh_CN" else value.en
    if isinstance(value, Enum):
        return label(locale, value)
    if isinstance(value, datetime):
        return fmt_datetime(value, locale)
    if isinstance(value, date):
        return fmt_date(value, locale)
    if isinstance(value, list | tuple):
        words = [word(locale, v) for v in value]
        if not words:
            return ""
        if all(isinstance(v, Message) for v in value):
            return translations(locale).gettext("; ").join(words)
        return format_list(words, style="or" if isinstance(value, OneOf) else "standard", locale=locale)
    return str(value)


def message_text(locale: str, code: MessageCode, params: Mapping[str, object]) -> str:
    """The code's text from the catalog, filled with its values in the page's language."""
    template = str(translations(locale).pgettext(code.value, code.template))
    return template % {name: word(locale, value) for name, value in params.items()}


def error_text(locale: str, exc: DomainError) -> str:
    """What a page says about an error, in its language."""
    if not exc.coded and locale == "en":
        return exc.message
    return message_text(locale, exc.code, exc.params if exc.coded else {})
