"""The notices domain's error codes (public cases and objections)."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class NoticeError(ErrorCode):
    NO_SUCH_CASE = ("notices.no_such_case", "case %(case)s does not exist")
    OBJECTIONS_CLOSED = ("notices.objections_closed", "case %(case)s is not in public notice; objections are closed")
    MEMBERS_ONLY = ("notices.members_only", "only members in a plan may object to a case")
    REASON_LENGTH = ("notices.reason_length", "an objection needs a reason of 5 to 2000 characters")
    ALREADY_OBJECTED = ("notices.already_objected", "this member has already objected to this case")
    NO_SUCH_OBJECTION = ("notices.no_such_objection", "objection %(objection)s does not exist")
