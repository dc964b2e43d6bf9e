"""The banking room's error codes: the custody exceptions queue, the custodian's outbox, the
wind-down's preconditions and the streamed camt.053 reader."""

from __future__ import annotations

from huzhu.errors import ErrorCode
from huzhu.messages import Name, OneOf

# The queue's words in both languages (the API's English keeps the stored value).
_KINDS = {
    "unknown_reference": "附言无法识别的入账",
    "unmatched_line": "对账单中无对应记账的条目",
    "duplicate_statement": "重复收到的对账单",
    "sequence_gap": "对账单缺号",
    "amount_mismatch": "金额或日期不一致",
    "returned_payment": "被收款行退回的付款",
    "malformed_message": "被拒绝的报文",
}
_RESOLUTIONS = {
    "book_to_member": "记入该会员账户",
    "reinstruct": "向更正后的账户重新付款",
    "acknowledge": "确认（已处理）",
}
_STATUSES = {"open": "待处理", "proposed": "已提出处理方案", "resolved": "已处理"}


def exception_kind(kind: str) -> Name:
    return Name(kind, kind, f"“{_KINDS[kind]}”" if kind in _KINDS else kind, by_code=True)


def resolutions(names: tuple[str, ...]) -> OneOf:
    return OneOf(Name(n, n, f"“{_RESOLUTIONS.get(n, n)}”（{n}）", by_code=True) for n in names)


def exception_status(status: str) -> Name:
    return Name(status, status, _STATUSES.get(status, status), by_code=True)


class BankingError(ErrorCode):
    DTD_REFUSED = ("banking.dtd_refused", "%(schema)s: the message carries a document type declaration (DTD)")
    MIXED_DEBTORS = ("banking.mixed_debtors",
                     "the payments are from different debtor accounts: one message each")
    NO_SUCH_EXCEPTION = ("banking.no_such_exception", "there is no custody exception %(exception)s")
    DECIDERS_ONLY = ("banking.deciders_only",
                     "only an admin or a reviewer may propose or approve the resolution of a custody exception")
    NOT_OPEN = ("banking.exception_not_open",
                "custody exception %(exception)s is %(status)s: only an open one takes a proposal")
    RESOLUTION_NOT_ALLOWED = ("banking.resolution_not_allowed",
                              "a %(kind)s exception is resolved by one of %(choices)s")
    BOOK_TARGET = ("banking.book_target", "book_to_member needs the number of an existing member as its target")
    REINSTRUCT_TARGET = ("banking.reinstruct_target",
                         "reinstruct needs the corrected bank account (4 to 34 characters) as its target")
    NOTE_NEEDED = ("banking.note_needed", "say in the note what was found and done")
    NOTHING_TO_TURN_DOWN = ("banking.nothing_to_turn_down", "custody exception %(exception)s has no proposal to turn down")
    OWN_PROPOSAL = ("banking.own_proposal",
                    "withdrawing one's own proposal is not a decision: another staff member decides")
    NOTHING_TO_APPROVE = ("banking.nothing_to_approve", "custody exception %(exception)s has no proposal to approve")
    FOUR_EYES = ("banking.four_eyes", "four eyes: the staff member who proposed a resolution cannot approve it")
    NO_NOTIFIED_CREDIT = ("banking.no_notified_credit", "exception %(exception)s names no credit the bank notified")
    CREDIT_BOOKED = ("banking.credit_booked", "the credit %(reference)s is already booked")
    MEMBER_GONE = ("banking.member_gone", "the member named in the proposal no longer exists")
    NO_RETURNED_PAYMENT = ("banking.no_returned_payment", "exception %(exception)s names no returned payment")
    DEPOSIT_BY_TRANSFER = ("banking.deposit_by_transfer",
                           "money enters custody only by a bank transfer to the pool account quoting the member's "
                           "reference (shown on the member's page); the platform books it from the bank's "
                           "notification")
    STATEMENTS_FROM_BANK = ("banking.statements_from_bank",
                            "the bank sends its own daily camt.053 statements: run `huzhu custodian sync`")
    NO_PENDING_TRANSFER = ("banking.no_pending_transfer",
                           "payment %(payment)s has no pending ledger transfer to queue with")
    NO_SUCH_PLAN = ("banking.no_such_plan", "there is no plan '%(plan)s'")
    WIND_DOWN_NEEDS_BANK = ("banking.wind_down_needs_bank",
                            "a wind-down refunds through the custodian bank: configure HUZHU_CUSTODY_BANK first")
    AMOUNT_MISSING = ("banking.camt053.amount_missing", "camt.053: an amount is missing")
    NO_BOOKING_DATE = ("banking.camt053.no_booking_date", "camt.053: an entry has no booking date")
    ENTRY_CURRENCY = ("banking.camt053.entry_currency", "camt.053: an entry is in %(currency)s, not %(expected)s")
    NO_OPENING_OR_CLOSING = ("banking.camt053.no_opening_or_closing",
                             "camt.053: the statement lacks its opening or closing balance")
    DOES_NOT_ADD_UP = ("banking.camt053.does_not_add_up",
                       "camt.053: opening %(opening)s + credits − debits ≠ closing %(closing)s")
