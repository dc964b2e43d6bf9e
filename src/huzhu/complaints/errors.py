"""The complaints domain's refusals."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class ComplaintError(ErrorCode):
    TOPIC = ("complaints.topic", "choose what the complaint is about")
    SUBJECT_LENGTH = ("complaints.subject_length", "the subject needs 2 to 200 characters")
    BODY_LENGTH = ("complaints.body_length", "say what happened in 5 to 5000 characters")
    ANSWER_LENGTH = ("complaints.answer_length", "the answer needs 2 to 5000 characters")
    NO_SUCH_COMPLAINT = ("complaints.no_such_complaint", "complaint %(complaint)s does not exist")
    NOT_OPEN = ("complaints.not_open", "complaint %(complaint)s is %(status)s; only an open complaint can be answered")
    ALREADY_CLOSED = ("complaints.already_closed", "complaint %(complaint)s is already closed")
