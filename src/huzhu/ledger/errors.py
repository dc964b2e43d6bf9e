"""The ledger's result codes for refused transfers, named as TigerBeetle names them.

An account's running totals are 64-bit integers (PostgreSQL ``bigint``; SQLite integers, which
silently turn into floating point past 2^63 − 1). A transfer that would take any total of any of
its accounts past that limit is refused before anything is written, with the code of the first
total it would break, in TigerBeetle's order: the pending totals, the posted totals, then each
side's posted and pending together.
"""

from __future__ import annotations

from huzhu.errors import ErrorCode, InvalidInput

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
