"""The ledger's result codes for refused transfers, named as TigerBeetle names them.

An account's running totals are 64-bit integers (PostgreSQL ``bigint``; SQLite integers, which
silently turn into floating point past 2^63 − 1). A transfer that would take any total of any of
its accounts past that limit is refused before anything is written, with the code of the first
total it would break, in TigerBeetle's order: the pending totals, the posted totals, then each
side's posted and pending together.
"""

from __future__ import annotations

from huzhu.errors import ErrorCode, InvalidInput
from huzhu.messages import Name

MAX_TOTAL = 2**63 - 1


class LedgerError(ErrorCode):
    OVERFLOWS_DEBITS_PENDING = ("ledger.overflows_debits_pending",
                                "refused: ledger account %(account)s's pending debits would pass the largest total "
                                "the ledger keeps (%(limit)s fen)")
    OVERFLOWS_CREDITS_PENDING = ("ledger.overflows_credits_pending",
                                 "refused: ledger account %(account)s's pending credits would pass the largest total "
                                 "the ledger keeps (%(limit)s fen)")
    OVERFLOWS_DEBITS_POSTED = ("ledger.overflows_debits_posted",
                               "refused: ledger account %(account)s's posted debits would pass the largest total "
                               "the ledger keeps (%(limit)s fen)")
    OVERFLOWS_CREDITS_POSTED = ("ledger.overflows_credits_posted",
                                "refused: ledger account %(account)s's posted credits would pass the largest total "
                                "the ledger keeps (%(limit)s fen)")
    OVERFLOWS_DEBITS = ("ledger.overflows_debits",
                        "refused: ledger account %(account)s's debits, posted and pending together, would pass the "
                        "largest total the ledger keeps (%(limit)s fen)")
    OVERFLOWS_CREDITS = ("ledger.overflows_credits",
                         "refused: ledger account %(account)s's credits, posted and pending together, would pass the "
                         "largest total the ledger keeps (%(limit)s fen)")
    KEY_REUSED = ("ledger.key_reused", "idempotency key '%(key)s' was already used for a different transfer")
    KEY_REUSED_BULK = ("ledger.key_reused_bulk",
                       "idempotency key '%(key)s' was already used for a transfer of %(legs)s legs totalling "
                       "%(amount)s fen")
    KEY_REQUIRED = ("ledger.key_required", "an idempotency key of 1 to 160 characters is required")
    LEG_DIRECTION = ("ledger.leg_direction", "leg direction must be debit (+1) or credit (-1)")
    LEG_AMOUNT = ("ledger.leg_amount", "every leg amount must be a positive whole number of fen")
    ONE_EACH_SIDE = ("ledger.one_each_side", "a transfer needs at least one debit and one credit")
    UNBALANCED = ("ledger.unbalanced", "transfer is not balanced: debits %(debits)s ≠ credits %(credits)s")
    INSUFFICIENT = ("ledger.insufficient", "available balance %(available)s yuan is less than %(amount)s yuan")
    NO_SUCH_ACCOUNT = ("ledger.no_such_account", "ledger account %(account)s does not exist")
    NOT_CUSTODY_CASH = ("ledger.not_custody_cash", "ledger account %(account)s is not a custody cash account")
    NOT_PENDING = ("ledger.not_pending", "transfer %(transfer)s is not a pending transfer")
    ALREADY_RESOLVED = ("ledger.already_resolved", "transfer %(transfer)s was already %(status)s")
    RESERVED_PARAMS = ("ledger.reserved_params", "leg source parameters may not be named %(names)s")
    ONLY_LIABILITIES = ("ledger.only_liabilities", "only liability accounts are opened with a credit, not '%(kind)s'")
    OPENING_BALANCE = ("ledger.opening_balance", "an opening balance must be a whole number of fen, zero or more")
    FINISHED = ("ledger.finished", "transfer '%(key)s' is finished: it takes no more legs")
    REPLAYED = ("ledger.replayed", "transfer '%(key)s' is a replay of a transfer already posted: it takes no more legs")
    LEG_SOURCE_COLUMNS = ("ledger.leg_source_columns",
                          "a leg source must select account_id and amount (missing %(missing)s)")


_RESOLVED = {"posted": "入账", "voided": "作废"}


def resolved(status: str) -> Name:
    """A pending transfer's resolution, as the Chinese pages say it after 已."""
    return Name(status, status, _RESOLVED.get(status, status), by_code=True)


class LedgerOverflow(InvalidInput):
    type_slug = "ledger-overflow"
    title = "A ledger total would overflow"

    def __init__(self, code: LedgerError, *, account: int) -> None:
        super().__init__(code, account=account, limit=MAX_TOTAL, details={"result": code.value.split(".", 1)[1]})


_BY_COLUMN = {
    "debits_pending": LedgerError.OVERFLOWS_DEBITS_PENDING, "credits_pending": LedgerError.OVERFLOWS_CREDITS_PENDING,
    "debits_posted": LedgerError.OVERFLOWS_DEBITS_POSTED, "credits_posted": LedgerError.OVERFLOWS_CREDITS_POSTED,
}
_BY_SIDE = {"debits": LedgerError.OVERFLOWS_DEBITS, "credits": LedgerError.OVERFLOWS_CREDITS}
_ORDER = ("debits_pending", "credits_pending", "debits_posted", "credits_posted")


def overflow_of(totals: dict[str, int], moves: dict[str, int]) -> LedgerError | None:
    """The first total (TigerBeetle's order) that ``moves`` (column → amount added) would take past
    ``MAX_TOTAL`` from ``totals`` (the account's four totals); ``None`` when all stay within it."""
    for column in _ORDER:
        if totals[column] > MAX_TOTAL - moves.get(column, 0):
            return _BY_COLUMN[column]
    for side in ("debits", "credits"):
        added = moves.get(f"{side}_posted", 0) + moves.get(f"{side}_pending", 0)
        if totals[f"{side}_posted"] + totals[f"{side}_pending"] > MAX_TOTAL - added:
            return _BY_SIDE[side]
    return None
