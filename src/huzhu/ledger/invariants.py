"""The ledger's invariants (design §4), each a set-based query returning what breaks it.

``check_ledger`` runs them all and returns a list of ``Violation``; empty means the books hold.
It reports, it never crashes: each check runs in a savepoint, and a check the database cannot
evaluate (a sum past 64 bits over rows already broken) is itself reported as a violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from huzhu.db import is_sqlite
from huzhu.ledger.models import CASE_POOL, CUSTODY_CASH, MEMBER_BALANCE

# The status a pending transfer ended in: its resolution's, or still pending.
_EFFECTIVE = """
    SELECT t.id, t.kind, t.case_id,
           CASE WHEN t.status <> 'pending' THEN t.status
                ELSE COALESCE((SELECT r.status FROM ledger_transfers r WHERE r.pending_id = t.id), 'pending')
           END AS effective
    FROM ledger_transfers t
    WHERE t.pending_id IS NULL
"""


@dataclass(frozen=True)
class Violation:
    invariant: str
    message: str


def _rows(session: Session, sql: str, **params: object) -> list[Row[Any]]:
    return list(session.execute(text(sql), params))


_WHOLE_FEN_COLUMNS = (
    ("ledger_accounts", ("debits_posted", "credits_posted", "debits_pending", "credits_pending")),
    ("ledger_entries", ("amount",)),
    ("ledger_transfers", ("amount",)),
)


def totals_are_whole_fen(session: Session) -> list[Violation]:
    """Every total and amount is an integer. PostgreSQL's bigint cannot hold anything else; SQLite
    silently turns an integer past 2^63 − 1 into floating point (what 9,300 maximal top-ups on one
    member once did before transfers were refused at the limit)."""
    if not is_sqlite(session):
        return []
    found = []
    for table, columns in _WHOLE_FEN_COLUMNS:
        broken = " OR ".join(f"typeof({c}) <> 'integer'" for c in columns)
        for row in _rows(session, f"SELECT id, {', '.join(columns)} FROM {table} WHERE {broken} LIMIT 20"):
            values = ", ".join(f"{c}={getattr(row, c)!r}" for c in columns)
            found.append(Violation("totals_are_whole_fen", f"{table} row {row.id} is not whole fen: {values}"))
    return found


def transfers_balanced(session: Session) -> list[Violation]:
    rows = _rows(
        session,
        """
        SELECT * FROM (
          SELECT t.id, t.amount,
                 CAST(COALESCE(SUM(CASE WHEN e.direction = 1 THEN e.amount END), 0) AS BIGINT) AS debits,
                 CAST(COALESCE(SUM(CASE WHEN e.direction = -1 THEN e.amount END), 0) AS BIGINT) AS credits,
                 COUNT(e.id) AS n, t.entry_count
          FROM ledger_transfers t LEFT JOIN ledger_entries e ON e.transfer_id = t.id
          WHERE t.pending_id IS NULL
          GROUP BY t.id, t.amount, t.entry_count
        ) totals
        WHERE debits <> credits OR debits <> amount OR n <> entry_count
        LIMIT 20
        """,
    )
    return [
        Violation(
            "debits_equal_credits",
            f"transfer {r.id}: debits {r.debits} ≠ credits {r.credits} or amount {r.amount} / entries {r.n}≠{r.entry_count}",
        )
        for r in rows
    ]


def account_totals_match_entries(session: Session) -> list[Violation]:
    rows = _rows(
        session,
        f"""
        WITH eff AS ({_EFFECTIVE}),
        sums AS (
          SELECT e.account_id,
            CAST(SUM(CASE WHEN e.direction = 1 AND eff.effective = 'posted' THEN e.amount ELSE 0 END) AS BIGINT) AS dp,
            CAST(SUM(CASE WHEN e.direction = -1 AND eff.effective = 'posted' THEN e.amount ELSE 0 END) AS BIGINT) AS cp,
            CAST(SUM(CASE WHEN e.direction = 1 AND eff.effective = 'pending' THEN e.amount ELSE 0 END) AS BIGINT) AS dq,
            CAST(SUM(CASE WHEN e.direction = -1 AND eff.effective = 'pending' THEN e.amount ELSE 0 END) AS BIGINT) AS cq
          FROM ledger_entries e JOIN eff ON eff.id = e.transfer_id
          GROUP BY e.account_id
        )
        SELECT a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
               COALESCE(s.dp, 0) AS dp, COALESCE(s.cp, 0) AS cp, COALESCE(s.dq, 0) AS dq, COALESCE(s.cq, 0) AS cq
        FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id
        WHERE a.debits_posted <> COALESCE(s.dp, 0) OR a.credits_posted <> COALESCE(s.cp, 0)
           OR a.debits_pending <> COALESCE(s.dq, 0) OR a.credits_pending <> COALESCE(s.cq, 0)
        LIMIT 20
        """,
    )
    return [
        Violation(
            "account_totals_match_entries",
            f"ledger account {r.id}: stored totals ({r.debits_posted}, {r.credits_posted}, {r.debits_pending}, "
            f"{r.credits_pending}) ≠ entries ({r.dp}, {r.cp}, {r.dq}, {r.cq})",
        )
        for r in rows
    ]


def entries_reference_existing_rows(session: Session) -> list[Violation]:
    rows = _rows(
        session,
        """
        SELECT e.id, e.transfer_id, e.account_id FROM ledger_entries e
        LEFT JOIN ledger_transfers t ON t.id = e.transfer_id
        LEFT JOIN ledger_accounts a ON a.id = e.account_id
        WHERE t.id IS NULL OR a.id IS NULL
        LIMIT 20
        """,
    )
    return [
        Violation("entries_reference_existing_rows",
                  f"entry {r.id} names transfer {r.transfer_id} / account {r.account_id}, which do not exist")
        for r in rows
    ]


def no_negative_member_balance(session: Session) -> list[Violation]:
    rows = _rows(
        session,
        """
        SELECT id, credits_posted - debits_posted - debits_pending AS available
        FROM ledger_accounts
        WHERE kind IN (:member, :case) AND credits_posted - debits_posted - debits_pending < 0
        LIMIT 20
        """,
        member=MEMBER_BALANCE,
        case=CASE_POOL,
    )
    return [Violation("no_negative_balance", f"ledger account {r.id} is below zero: {r.available} fen") for r in rows]


def custody_equals_liabilities(session: Session) -> list[Violation]:
    row = session.execute(
        text(
            """
            SELECT
              CAST(COALESCE(SUM(CASE WHEN kind = :cash THEN debits_posted - credits_posted END), 0) AS BIGINT) AS cash,
              CAST(COALESCE(SUM(CASE WHEN kind = :member THEN credits_posted - debits_posted END), 0) AS BIGINT) AS members,
              CAST(COALESCE(SUM(CASE WHEN kind = :case THEN credits_posted - debits_posted END), 0) AS BIGINT) AS pools
            FROM ledger_accounts
            """
        ),
        {"cash": CUSTODY_CASH, "member": MEMBER_BALANCE, "case": CASE_POOL},
    ).one()
    if row.cash != row.members + row.pools:
        return [
            Violation(
                "custody_equals_member_balances_plus_case_pools",
                f"custody cash {row.cash} ≠ member balances {row.members} + undisbursed case pools {row.pools}",
            )
        ]
    return []


def payouts_equal_collected(session: Session) -> list[Violation]:
    rows = _rows(
        session,
        f"""
        WITH eff AS ({_EFFECTIVE}),
        shares AS (
          SELECT t.case_id, CAST(SUM(t.amount) AS BIGINT) AS collected FROM ledger_transfers t
          WHERE t.kind = 'share' AND t.pending_id IS NULL GROUP BY t.case_id
        ),
        payouts AS (
          SELECT eff.case_id, CAST(SUM(t.amount) AS BIGINT) AS paid FROM eff JOIN ledger_transfers t ON t.id = eff.id
          WHERE eff.kind = 'payout' AND eff.effective = 'posted' GROUP BY eff.case_id
        )
        SELECT c.id, c.case_no, c.status, c.collected_fen,
               COALESCE(s.collected, 0) AS shared, COALESCE(p.paid, 0) AS paid
        FROM cases c LEFT JOIN shares s ON s.case_id = c.id LEFT JOIN payouts p ON p.case_id = c.id
        WHERE (c.collected_fen IS NOT NULL AND c.collected_fen <> COALESCE(s.collected, 0))
           OR (c.status = 'paid' AND COALESCE(p.paid, 0) <> COALESCE(s.collected, 0))
           OR (c.status <> 'paid' AND COALESCE(p.paid, 0) <> 0)
        LIMIT 20
        """,
    )
    return [
        Violation(
            "payout_equals_collected_shares",
            f"case {r.case_no} ({r.status}): recorded collected {r.collected_fen}, shares {r.shared}, paid out {r.paid}",
        )
        for r in rows
    ]


def each_member_pays_each_case_once(session: Session) -> list[Violation]:
    rows = _rows(
        session,
        """
        SELECT t.case_id, e.account_id, COUNT(*) AS n
        FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id
        WHERE t.kind = 'share' AND e.direction = 1
        GROUP BY t.case_id, e.account_id
        HAVING COUNT(*) > 1
        LIMIT 20
        """,
    )
    return [
        Violation("member_pays_case_once", f"ledger account {r.account_id} paid case {r.case_id} {r.n} times")
        for r in rows
    ]


def custodian_agrees(session: Session) -> list[Violation]:
    """The platform's custody cash equals the custodian's own books, movement by movement."""
    row = session.execute(
        text(
            """
            SELECT
              (SELECT CAST(COALESCE(SUM(CASE WHEN direction = 'CRDT' THEN amount_fen ELSE -amount_fen END), 0) AS BIGINT)
               FROM bank_transactions WHERE rejected = false)
              -- with the custodian bank as its own service: the bookings it notified that the ledger mirrors
              + (SELECT CAST(COALESCE(SUM(CASE WHEN direction = 'CRDT' THEN amount_fen ELSE -amount_fen END), 0) AS BIGINT)
                 FROM custody_bank_entries WHERE transfer_id IS NOT NULL) AS bank,
              (SELECT CAST(COALESCE(SUM(debits_posted - credits_posted), 0) AS BIGINT)
               FROM ledger_accounts WHERE kind = :cash) AS ledger
            """
        ),
        {"cash": CUSTODY_CASH},
    ).one()
    if row.bank != row.ledger:
        return [
            Violation(
                "books_equal_custodian",
                f"custodian holds {row.bank} fen but the ledger's custody cash is {row.ledger} fen",
            )
        ]
    return []


CHECKS = (
    totals_are_whole_fen,
    entries_reference_existing_rows,
    transfers_balanced,
    account_totals_match_entries,
    no_negative_member_balance,
    custody_equals_liabilities,
    payouts_equal_collected,
    each_member_pays_each_case_once,
    custodian_agrees,
)


def check_ledger(session: Session) -> list[Violation]:
    violations: list[Violation] = []
    for check in CHECKS:
        try:
            with session.begin_nested():
                violations.extend(check(session))
        except (DBAPIError, ArithmeticError, ValueError, TypeError) as exc:
            violations.append(Violation(check.__name__, f"could not be checked: {_why(exc)}"))
    return violations


def _why(exc: Exception) -> str:
    """The database's own words (no parameters: the engines hide them), e.g. SQLite's "integer
    overflow" or PostgreSQL's "bigint out of range": a sum past 64 bits over broken totals."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text_ = (str(cause).splitlines() or [""])[0][:200]
    return f"{type(cause).__name__}: {text_}" if text_ else type(cause).__name__
