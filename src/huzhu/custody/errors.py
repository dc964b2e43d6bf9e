"""The custody room's error codes: ISO 20022 messages built for and read from the custodian bank.

``what`` and ``field`` name the element or value at fault as the message or the code calls it
(``entry 3 amount``, ``creditor_account``): operators match them against the bank's file.
"""

from __future__ import annotations

import re

from huzhu.errors import Conflict, DomainError, ErrorCode
from huzhu.messages import Message, Name

_HEADS = [
    (re.compile(r"entry (\d+)"), r"第 \1 笔分录"),
    (re.compile(r"block (\d+)"), r"第 \1 个付款批次"),
    (re.compile(r" transaction (\d+)"), r"的第 \1 笔交易"),
    (re.compile(r" payment (\d+)"), r"的第 \1 笔付款"),
    (re.compile(r"^amount of (\S+)$"), r"\1 的金额"),
    (re.compile(r"^opening balance"), "期初余额"),
    (re.compile(r"^closing balance"), "期末余额"),
    (re.compile(r"^balance"), "余额"),
    (re.compile(r"^creation time$"), "创建时间"),
    (re.compile(r" \(account statement\)$"), "（账户对账单）"),
    (re.compile(r" \(account notification\)$"), "（账户通知）"),
]
_TAILS = [(" instructed amount", "的指示金额"), (" amount", "的金额"), (" booking date", "的记账日期"),
          (" value date", "的起息日"), (" execution date", "的执行日期"), (" control sum", "的控制总额")]


def where(what: str) -> Name:
    """The element at fault (``entry 3 transaction 2 amount``): the API keeps the English words, the
    Chinese pages read 第 3 笔分录的第 2 笔交易的金额 (the English, when a form is not known here)."""
    tails = ""
    text = what
    while True:
        tail = next(((en, zh) for en, zh in _TAILS if text.endswith(en)), None)
        if tail is None:
            break
        text, tails = text[: -len(tail[0])], tail[1] + tails
    for pattern, zh in _HEADS:
        text = pattern.sub(zh, text)
    chinese = text + tails
    return Name(what, what, what if re.search(r"(^|\s)[a-z]{3,}", chinese) else chinese)


def inner(exc: DomainError) -> Message | str:
    """An error inside another one: by its code, so a page reads it in its language."""
    return Message(exc.code, exc.params) if exc.coded else exc.message


class Iso20022Error(ErrorCode):
    NOT_TEXT = ("custody.iso20022.not_text", "%(field)s must be text")
    EMPTY = ("custody.iso20022.empty", "%(field)s must not be empty")
    TOO_LONG = ("custody.iso20022.too_long",
                "%(field)s is %(length)s characters long; ISO 20022 allows at most %(max)s")
    NOT_FEN = ("custody.iso20022.not_fen", "%(field)s must be an integer number of fen")
    NOT_POSITIVE = ("custody.iso20022.not_positive", "%(field)s must be greater than zero")
    TOO_LARGE = ("custody.iso20022.too_large", "%(field)s is too large")
    BALANCE_TOO_LARGE = ("custody.iso20022.balance_too_large", "balance is too large")
    CURRENCY = ("custody.iso20022.currency", "currency '%(currency)s' is not an ISO 4217 code like \"CNY\"")
    NOT_DATETIME = ("custody.iso20022.not_datetime", "%(field)s must be a datetime")
    NOT_AWARE = ("custody.iso20022.not_aware", "%(field)s must be timezone-aware")
    NOT_DATE = ("custody.iso20022.not_date", "%(field)s must be a date")
    DIRECTION = ("custody.iso20022.direction", "direction must be \"CRDT\" or \"DBIT\", not '%(direction)s'")
    UNKNOWN_SCHEMA = ("custody.iso20022.unknown_schema", "unknown schema '%(schema)s'; known: %(known)s")
    NOT_BYTES = ("custody.iso20022.not_bytes", "%(schema)s: the message must be given as bytes")
    NOT_WELL_FORMED = ("custody.iso20022.not_well_formed", "%(schema)s: the message is not well-formed XML: %(error)s")
    NOT_VALID = ("custody.iso20022.not_valid", "%(schema)s: the message does not conform to the schema: %(error)s")
    NOT_VALID_AT = ("custody.iso20022.not_valid_at",
                    "%(schema)s: the message does not conform to the schema: line %(line)s: %(error)s")
    NOT_VALID_AT_MORE = ("custody.iso20022.not_valid_at_more",
                         "%(schema)s: the message does not conform to the schema: line %(line)s: %(error)s "
                         "(and %(more)s more errors)")
    NOT_WELL_FORMED_OR_VALID = ("custody.iso20022.not_well_formed_or_valid",
                                "%(schema)s: the message is not well-formed or does not conform to the schema: "
                                "%(error)s")
    NOT_XML_TEXT = ("custody.iso20022.not_xml_text", "%(tag)s: '%(text)s' cannot be written in XML: %(error)s")
    NOT_A_BIC = ("custody.iso20022.not_a_bic", "debtor_agent_bic '%(bic)s' is not a BIC")
    NO_PAYMENTS = ("custody.iso20022.no_payments", "a payment initiation needs at least one payment")
    WRONG_ITEMS = ("custody.iso20022.wrong_items", "%(field)s must be %(kind)s values")
    END_TO_END_TWICE = ("custody.iso20022.end_to_end_twice", "end-to-end id '%(id)s' appears twice in the message")
    PERIOD_PAIR = ("custody.iso20022.period_pair", "from_to must be a (from, to) pair of datetimes")
    PERIOD_BACKWARDS = ("custody.iso20022.period_backwards", "from_to: the statement period ends before it starts")
    SEQUENCE_NUMBER = ("custody.iso20022.sequence_number", "sequence_number must be a whole number from 1")
    OUTSIDE_PERIOD = ("custody.iso20022.outside_period",
                      "entry %(index)s (%(id)s) is booked outside the statement period")
    REASON_CODE = ("custody.iso20022.reason_code", "%(field)s '%(code)s' is not an ISO 20022 reason code like \"AC01\"")
    TRANSACTION_STATUS = ("custody.iso20022.transaction_status",
                          "transaction status '%(status)s' is not one of %(choices)s")
    REJECTION_REASON = ("custody.iso20022.rejection_reason", "the rejection of %(id)s needs a reason code")
    GROUP_STATUS = ("custody.iso20022.group_status", "group status '%(status)s' is not one of %(choices)s")
    GROUP_REJECTION_REASON = ("custody.iso20022.group_rejection_reason",
                              "the rejection of a whole message needs a reason code")
    EMPTY_REPORT = ("custody.iso20022.empty_report",
                    "a status report needs a group status or at least one transaction status")
    DEBIT_EXTRAS = ("custody.iso20022.debit_extras",
                    "a debit has no virtual account, creditor reference or return reason")
    EMPTY_NOTIFICATION = ("custody.iso20022.empty_notification", "a notification needs at least one entry")
    STATEMENTS_MORE = ("custody.iso20022.statements_more",
                       "camt.053: expected exactly one <Stmt> (account statement), found more")
    STATEMENTS_NONE = ("custody.iso20022.statements_none",
                       "camt.053: expected exactly one <Stmt> (account statement), found 0")
    EXACTLY_ONE = ("custody.iso20022.exactly_one", "%(msg)s: expected exactly one %(what)s, found %(found)s")
    NOT_DECIMAL = ("custody.iso20022.not_decimal", "%(msg)s: %(what)s '%(text)s' is not a decimal amount")
    WRONG_CURRENCY = ("custody.iso20022.wrong_currency",
                      "%(msg)s: %(what)s is in %(currency)s, but the account is in %(expected)s")
    NOT_MOMENT = ("custody.iso20022.not_moment", "%(msg)s: %(what)s '%(text)s' is not an ISO date or date-time")
    NOT_ISO_DATE = ("custody.iso20022.not_iso_date", "%(msg)s: %(what)s '%(day)s' is not an ISO date")
    NO_DATE = ("custody.iso20022.no_date", "%(msg)s: %(what)s has neither a date nor a date-time")
    INDICATOR = ("custody.iso20022.indicator", "%(msg)s: %(what)s has credit/debit indicator '%(text)s'")
    BALANCE_TWICE = ("custody.iso20022.balance_twice", "camt.053: balance %(code)s appears more than once")
    BALANCES_NEEDED = ("custody.iso20022.balances_needed",
                       "camt.053: the statement needs an opening (OPBD) and a closing (CLBD) balance")
    NOT_BOOKED = ("custody.iso20022.not_booked",
                  "%(msg)s: %(what)s has status '%(status)s'; a statement may only hold booked entries")
    EXACTLY_ONE_AMOUNT = ("custody.iso20022.exactly_one_amount",
                          "%(msg)s: expected exactly one %(what)s amount, found %(found)s")
    NO_BOOKING_DATE = ("custody.iso20022.no_booking_date", "%(msg)s: %(what)s has no booking date")
    NO_TRANSACTION_AMOUNT = ("custody.iso20022.no_transaction_amount",
                             "%(msg)s: %(what)s has no amount but the entry holds several transactions")
    OTHER_WAY = ("custody.iso20022.other_way", "%(msg)s: %(what)s goes the other way than its entry")
    TRANSACTIONS_SUM = ("custody.iso20022.transactions_sum",
                        "%(msg)s: the transactions of %(what)s do not add up to its amount")
    PAIN001_COUNT = ("custody.iso20022.pain001_count", "pain.001: %(what)s says %(stated)s transactions but holds %(held)s")
    PAIN001_EQUIVALENT = ("custody.iso20022.pain001_equivalent",
                          "pain.001: %(what)s gives an equivalent amount; only an instructed amount is accepted")
    PAIN001_CREDITOR = ("custody.iso20022.pain001_creditor", "pain.001: %(what)s needs the creditor's name and account")
    PAIN001_END_TO_END_TWICE = ("custody.iso20022.pain001_end_to_end_twice",
                                "pain.001: end-to-end id '%(id)s' appears twice in the message")
    PAIN002_TRANSACTION = ("custody.iso20022.pain002_transaction",
                           "pain.002: every transaction status needs its original EndToEndId and a status")
    PAIN002_INNER = ("custody.iso20022.pain002_inner", "pain.002: %(error)s")
    PAIN002_GROUP_STATUS = ("custody.iso20022.pain002_group_status",
                            "pain.002: group status '%(status)s' is not one of %(choices)s")
    PAIN002_EMPTY = ("custody.iso20022.pain002_empty",
                     "pain.002: the report has neither a group status nor a transaction status")
    CAMT054_NO_DETAILS = ("custody.iso20022.camt054_no_details",
                          "camt.054: %(what)s has no transaction details: the platform cannot tell whose money it is")
    CAMT054_NO_REFERENCE = ("custody.iso20022.camt054_no_reference",
                            "camt.054: %(what)s has no bank reference (AcctSvcrRef)")
    CLOSING_GIVEN = ("custody.iso20022.closing_given",
                     "camt.053: opening balance %(opening)s + credits − debits = %(computed)s, but the closing "
                     "balance given is %(closing)s")
    CLOSING_SAYS = ("custody.iso20022.closing_says",
                    "camt.053: opening balance %(opening)s + credits − debits = %(computed)s, but the closing "
                    "balance says %(closing)s")
    PAIN001_CONTROL_SUM = ("custody.iso20022.pain001_control_sum",
                           "pain.001: %(what)s control sum %(control)s is not the sum of its payments, %(total)s")
    CAMT054_INNER = ("custody.iso20022.camt054_inner", "camt.054: %(what)s: %(error)s")


class CustodyError(ErrorCode):
    BANK_REQUIRED = ("custody.bank_required",
                     "production mode moves money only through the custodian bank: set HUZHU_CUSTODY_BANK to the "
                     "bank's https:// URL (with HUZHU_CUSTODY_BANK_CERTS), or run with HUZHU_MODE=sandbox")
    NO_BANK = ("custody.no_bank", "no custodian bank is configured: set HUZHU_CUSTODY_BANK")
    BANK_UNREACHABLE = ("custody.bank_unreachable",
                        "the custodian bank did not answer; nothing was lost, try again later")


class BankRequired(Conflict):
    """Production mode without a custodian bank: money does not move (see docs/custodian.md)."""

    type_slug = "custody-bank-required"
    title = "Custodian bank required"


class BankUnavailable(Conflict):
    status_code = 503
    type_slug = "custody-bank-unavailable"
    title = "Custodian bank unavailable"
