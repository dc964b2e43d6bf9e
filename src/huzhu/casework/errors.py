"""The casework domain's codes: refusals of a decision or a resolution, and the texts it stores."""

from __future__ import annotations

from huzhu.errors import ErrorCode
from huzhu.messages import MessageCode


class CaseworkError(ErrorCode):
    INVESTIGATOR_CANNOT_REVIEW = ("casework.investigator_cannot_review", "the investigator of a claim cannot review it")
    NOT_IN_REVIEW = ("casework.not_in_review", "claim %(claim)s is %(status)s; only a claim in review can be decided")
    REJECTION_REASON = ("casework.rejection_reason", "a rejection needs a reason")
    REASON_TOO_LONG = ("casework.reason_too_long", "reason is limited to 5000 characters")
    CHECKS_FAILED = ("casework.checks_failed", "cannot approve: rule checks failed — %(failed)s")
    SECOND_REVIEWER = ("casework.second_reviewer",
                       "an objection must be resolved by a reviewer who neither approved nor investigated the case")
    OBJECTION_RESOLVED = ("casework.objection_resolved", "objection %(objection)s is already %(status)s")
    RESOLUTION_NOTE = ("casework.resolution_note", "a resolution note of 2 to 2000 characters is required")


class CaseworkText(MessageCode):
    FAILED_CHECK = ("casework.failed_check", "%(check)s: %(finding)s")
    # Stored as its code in the decision's reason when a reviewer approves without writing one.
    ALL_RULES_SATISFIED = ("casework.all_rules_satisfied", "all plan rules satisfied")
    # The resolution note the other open objections of a withdrawn case get (stored filled in, read
    # back by ``casework.resolution_note``).
    CASE_WITHDRAWN = ("casework.case_withdrawn", "case withdrawn after objection %(objection)s was upheld")
