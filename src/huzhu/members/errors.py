"""The members domain's error codes (members, enrollments, money in and out, imports)."""

from __future__ import annotations

from huzhu.errors import ErrorCode


class MemberError(ErrorCode):
    NAME = ("members.name", "name must be 1 to 100 characters")
    RELATIONSHIP = ("members.relationship", "relationship must be one of %(choices)s")
    ID_NUMBER_TAKEN = ("members.id_number_taken", "a member with this ID number is already registered")
    SELF_TAKEN = ("members.self_taken", "this account already has a member registered as 'self'")
    NO_SUCH_MEMBER = ("members.no_such_member", "member %(member)s does not exist")
    ROLE_CANNOT_SEE = ("members.role_cannot_see", "the %(role)s role cannot see members' accounts")
    ROLE_CANNOT_LIST = ("members.role_cannot_list", "the %(role)s role cannot list members")
    ADDED_BY_MEMBERS = ("members.added_by_members", "members are added by member accounts")
    OWN_ACCOUNT_ONLY = ("members.own_account_only", "only the member's own account can do this")
    NO_SUCH_ENROLLMENT = ("members.no_such_enrollment", "enrollment %(enrollment)s does not exist")
    ALREADY_JOINED = ("members.already_joined", "member %(member)s is already in plan %(plan)s")
    NOT_ELIGIBLE = ("members.not_eligible", "cannot join %(plan)s: %(reasons)s")
    DEPOSIT_KEY_USED = ("members.deposit_key_used",
                        "idempotency key %(key)s was already used for an earlier deposit; use a new key to join")
    TOP_UP_ZERO = ("members.top_up_zero", "top-up amount must be greater than zero")
    WITHDRAWAL_ZERO = ("members.withdrawal_zero", "withdrawal amount must be greater than zero")
    OVER_BALANCE = ("members.over_balance", "available balance is %(available)s yuan; cannot withdraw %(amount)s yuan")
    ALREADY_LEFT = ("members.already_left", "this enrollment has already left the plan")
    REFUND_ACCOUNT = ("members.refund_account", "a bank account is needed to refund the remaining balance")
    BANK_ACCOUNT = ("members.bank_account", "bank account must be 12 to 19 digits")
    NO_SHARE = ("members.no_share", "member %(member)s paid no share of case %(case)s")
    ID_KEY_TOO_SHORT = ("members.id_key_too_short", "the new ID-number key must be at least 32 characters")
    PLAN_WINDING_DOWN = ("members.plan_winding_down", "%(plan)s is being wound down: it takes no new members")
    BANK_REFERENCE_PENDING = ("members.bank_reference_pending",
                              "this member's bank reference is not opened yet: it is opened at the next custodian sync")
    ID_KEY_MISMATCH = ("members.id_key_mismatch",
                       "member %(member)s's ID number does not open with the current key; nothing was changed")


class ImportRefusal(ErrorCode):
    """Refusals of a member import (``huzhu members import``)."""

    DUPLICATE_ID = ("members.import.duplicate_id", "ID number appears twice in the file")
    NO_PLAN = ("members.import.no_plan", "at least one plan code is required")
    JOINED_IN_FUTURE = ("members.import.joined_in_future", "joined_on is in the future")
    ALREADY_IMPORTED = ("members.import.already_imported", "this file was already imported (sha256 %(digest)s…)")
    COLUMNS = ("members.import.columns", "%(file)s: missing column(s) %(missing)s; expected %(expected)s")
    REFUSED = ("members.import.refused", "import refused, nothing was written:\n%(errors)s")
