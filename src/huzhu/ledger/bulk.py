"""Bulk posting: one balanced transfer with any number of legs, written set-based in SQL.

The ledger owns every write to ``ledger_transfers``, ``ledger_entries`` and ``ledger_accounts``
(a test keeps every other package out of them). ``post_transfer`` posts a handful of legs known
in Python; this module is how a caller moves money for many accounts at once — an apportionment
run's million share legs, an import's opening balances — with no Python object per leg:

- ``add_legs``: legs from a query the caller supplies (a SQLAlchemy ``Select`` or ``text`` yielding
  ``account_id`` and ``amount``, with bound parameters). The ledger writes the entries and moves
  the accounts' running totals in one statement on PostgreSQL (a data-modifying CTE) and in
  ``INSERT … SELECT`` then ``UPDATE … FROM`` on SQLite, which has no such CTEs.
- ``add_leg``: one leg (a case pool's credit, a custody cash shard's debit).
- ``open_credited_accounts``: accounts opened already credited with their opening balance, the
  account rows and their credit legs written together (``COPY`` on PostgreSQL).
- ``finish``: reads back what was written and refuses a transfer whose debits and credits differ,
  or whose number of legs or total is not what the caller expected; then records the transfer's
  amount and entry count. It raises, so the caller's transaction rolls back.

The transfer's idempotency key and content hash work as in ``post_transfer``: replaying a key with
the same content gives back the transfer already posted (``replayed``, nothing is written), other
content raises ``IdempotencyConflict``. A bulk transfer's legs are not known before they are
written, so its content is its ``basis``: the totals it must reach, or the digest of the file its
legs come from. Bulk transfers are posted, never pending. Liabilities cannot be overdrawn by any
path: ``add_leg`` refuses it, and the accounts' ``no_overdraft`` constraint guards the set-based
statements.

    bulk = begin_bulk_transfer(session, idempotency_key="share:HZ2016001", kind="share", now=now,
                               basis={"entries": 3, "amount": 600}, case_id=case.id)
    if not bulk.replayed:
        bulk.add_legs(select(pool.c.account_id, pool.c.share.label("amount")), direction=DEBIT)
        bulk.add_leg(case.ledger_account_id, direction=CREDIT, amount=600)
    bulk.finish(entries=3, amount=600)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Select,
    SmallInteger,
    Subquery,
    Table,
    TextClause,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

from huzhu.db import bulk_insert, is_sqlite, sum_fen
from huzhu.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, InvalidTransition, NotFound
from huzhu.ledger.errors import MAX_TOTAL, LedgerError, LedgerOverflow, overflow_of
from huzhu.ledger.models import CASE_POOL, CREDIT, DEBIT, MEMBER_BALANCE, Entry, LedgerAccount, Transfer
from huzhu.ledger.service import (
    _check_direction,
    _check_key,
    _check_leg,
    _insert_transfer,
    _replay_or_conflict,
    _total_column,
    _totals,
    content_hash,
    find_transfer,
)
from huzhu.money import format_yuan

LegSource = Select[*tuple[Any, ...]] | TextClause | TextualSelect
"""Where ``add_legs`` reads legs: a query with the columns ``account_id`` and ``amount``, one row
per leg, bound parameters given with it (``text("… WHERE amount >= :least")`` and ``params``)."""

_ACCOUNT_COLUMNS = ("id", "kind", "debits_must_not_exceed_credits", "debits_posted", "credits_posted",
                    "debits_pending", "credits_pending", "created_at")
_ENTRY_COLUMNS = ("transfer_id", "account_id", "direction", "amount")
# The tables themselves (Core), not the ORM classes: the ORM would read a statement executed with
# parameters as a bulk operation over objects.
_ENTRIES: Table = Entry.__table__  # type: ignore[assignment]
_ACCOUNTS: Table = LedgerAccount.__table__  # type: ignore[assignment]
# The ledger's own bound parameters in ``add_legs``; a leg source may not use these names.
_TRANSFER_PARAM, _DIRECTION_PARAM, _AFTER_PARAM = "ledger_transfer_id", "ledger_direction", "ledger_after_entry"


class BulkTransferMismatch(RuntimeError):
    """What a bulk transfer wrote is not balanced or not what its caller expected."""


class BulkTransfer:
    """A transfer being written set-based; see the module's docstring. Get one from
    ``begin_bulk_transfer``; write its legs, then ``finish`` it in the same transaction."""

    def __init__(self, session: Session, transfer: Transfer, *, replayed: bool, now: datetime) -> None:
        self.transfer = transfer
        self.replayed = replayed
        self._session = session
        self._now = now
        self._moved = 0  # legs whose account total has moved
        self._finished = replayed

    # ---------------------------------------------------------------- legs

    def add_legs(self, source: LegSource, *, direction: int, params: Mapping[str, object] | None = None) -> int:
        """Write one leg in ``direction`` per row of ``source`` (``account_id``, ``amount`` > 0; each
        account at most once per direction) and move those accounts' totals. ``params`` bind the
        source's parameters. Returns the number of accounts moved: one per leg, unless a leg names
        an account that does not exist (``finish`` refuses that)."""
        self._check_writable()
        _check_direction(direction)
        values = dict(params or {})
        clash = {_TRANSFER_PARAM, _DIRECTION_PARAM, _AFTER_PARAM} & values.keys()
        if clash:
            raise InvalidInput(LedgerError.RESERVED_PARAMS, names=tuple(sorted(clash)))
        legs = _legs_subquery(source)
        written = select(
            bindparam(_TRANSFER_PARAM, self.transfer.id, type_=BigInteger), legs.c.account_id,
            bindparam(_DIRECTION_PARAM, direction, type_=SmallInteger), legs.c.amount,
        )
        entries = insert(_ENTRIES).from_select(list(_ENTRY_COLUMNS), written)
        column = _total_column(direction, pending=False)
        if is_sqlite(self._session):
            moved = self._add_legs_then_move(entries, direction, column, values)
        else:
            moved = self._add_legs_moving(entries, column, values)
        self._moved += moved
        return moved

    def _add_legs_moving(self, entries: Insert, column: str, params: dict[str, object]) -> int:
        """PostgreSQL: one statement writes the legs and moves the balances from what it wrote
        (measured faster than reading the legs back)."""
        legs = entries.returning(_ENTRIES.c.account_id, _ENTRIES.c.amount).cte("legs")
        total = _ACCOUNTS.c[column]
        result = self._session.connection().execute(
            update(_ACCOUNTS).where(_ACCOUNTS.c.id == legs.c.account_id, *_within_limit(column, legs.c.amount))
            .values({total: total + legs.c.amount}),
            params,
        )
        return int(result.rowcount)

    def _add_legs_then_move(self, entries: Insert, direction: int, column: str, params: dict[str, object]) -> int:
        """SQLite: ``INSERT … SELECT`` the legs, then one ``UPDATE … FROM`` over the entries just
        written (those after the highest entry id before the insert)."""
        after = self._session.scalar(select(func.coalesce(func.max(_ENTRIES.c.id), 0)))
        self._session.execute(entries, params)
        leg, total = _ENTRIES.c, _ACCOUNTS.c[column]
        result = self._session.connection().execute(
            update(_ACCOUNTS)
            .where(leg.transfer_id == bindparam(_TRANSFER_PARAM), leg.direction == bindparam(_DIRECTION_PARAM),
                   leg.id > bindparam(_AFTER_PARAM), _ACCOUNTS.c.id == leg.account_id,
                   *_within_limit(column, leg.amount))
            .values({total: total + leg.amount}),
            {_TRANSFER_PARAM: self.transfer.id, _DIRECTION_PARAM: direction, _AFTER_PARAM: after},
        )
        return int(result.rowcount)

    def add_leg(self, account_id: int, *, direction: int, amount: int) -> None:
        """Write one leg and move its account's total at once. A liability is never debited past
        what it can pay (``InsufficientFunds``). Add custody cash legs last: as in
        ``post_transfer``, the shards' totals move just before commit."""
        self._check_writable()
        _check_leg(direction, amount)
        column = _total_column(direction, pending=False)
        account, total = _ACCOUNTS.c, _ACCOUNTS.c[column]
        where = [account.id == account_id, *_within_limit(column, amount)]
        if direction == DEBIT:
            where.append(or_(account.debits_must_not_exceed_credits.is_(False),
                             account.debits_posted + account.debits_pending + amount <= account.credits_posted))
        moved = self._session.connection().execute(update(_ACCOUNTS).where(*where).values({total: total + amount}))
        if moved.rowcount != 1:
            self._refuse_leg(account_id, amount, column)
        self._session.execute(insert(_ENTRIES).values(transfer_id=self.transfer.id, account_id=account_id,
                                                   direction=direction, amount=amount))
        self._moved += 1

    def _refuse_leg(self, account_id: int, amount: int, column: str) -> None:
        account = self._session.get(LedgerAccount, account_id, populate_existing=True)
        if account is None:
            raise NotFound(LedgerError.NO_SUCH_ACCOUNT, account=account_id)
        result = overflow_of(_totals(account), {column: amount})
        if result is not None:
            raise LedgerOverflow(result, account=account_id)
        raise InsufficientFunds(LedgerError.INSUFFICIENT, available=format_yuan(account.available),
                                amount=format_yuan(amount), details={"account_id": account_id})

    def open_credited_accounts(self, balances: Sequence[int], *, kind: str = MEMBER_BALANCE) -> range:
        """Open one liability account per balance, already credited with it: the account rows
        and their credit legs (none for a zero balance) are written together, streamed with the
        driver's fastest path (``COPY`` on PostgreSQL). Returns the new ids, in ``balances`` order."""
        self._check_writable()
        if kind not in (MEMBER_BALANCE, CASE_POOL):
            raise InvalidInput(LedgerError.ONLY_LIABILITIES, kind=kind)
        if not balances:
            return range(0)
        funded = 0
        for balance in balances:
            if type(balance) is not int or balance < 0:
                raise InvalidInput(LedgerError.OPENING_BALANCE)
            if balance > MAX_TOTAL:
                raise LedgerOverflow(LedgerError.OVERFLOWS_CREDITS_POSTED, account=0)
            funded += balance > 0
        first = _reserve_account_ids(self._session, len(balances))
        now, transfer_id = self._now, self.transfer.id
        bulk_insert(self._session, "ledger_accounts", _ACCOUNT_COLUMNS, (
            (first + i, kind, True, 0, balance, 0, 0, now) for i, balance in enumerate(balances)))
        bulk_insert(self._session, "ledger_entries", _ENTRY_COLUMNS, (
            (transfer_id, first + i, CREDIT, balance) for i, balance in enumerate(balances) if balance > 0))
        self._moved += funded
        return range(first, first + len(balances))

    # ---------------------------------------------------------------- finishing

    def finish(self, *, entries: int, amount: int) -> Transfer:
        """Check what was written — Σ debits = Σ credits = ``amount``, ``entries`` legs, every leg's
        account total moved — and record the transfer's amount and entry count. Raises
        ``BulkTransferMismatch`` otherwise (the caller's transaction must roll back). On a replay,
        checks the transfer already posted against the same expectation."""
        if self.replayed:
            return self._replay_matches(entries, amount)
        self._check_writable()
        leg = _ENTRIES.c
        count, debits, credits = self._session.execute(
            select(func.count(), sum_fen(case((leg.direction == DEBIT, leg.amount), else_=0)),
                   sum_fen(case((leg.direction == CREDIT, leg.amount), else_=0)))
            .where(leg.transfer_id == self.transfer.id)
        ).one()
        key = self.transfer.idempotency_key
        if debits != credits:
            raise BulkTransferMismatch(f"transfer {key!r} is not balanced: debits {debits} ≠ credits {credits}")
        if (count, debits) != (entries, amount):
            raise BulkTransferMismatch(f"transfer {key!r} wrote {count} legs totalling {debits} fen, "
                                       f"expected {entries} totalling {amount}")
        if count != self._moved:
            self._refuse_unmoved(count)
        self.transfer.amount = amount
        self.transfer.entry_count = entries
        self._session.flush()
        self._finished = True
        return self.transfer

    def _refuse_unmoved(self, count: int) -> None:
        """Some legs' accounts did not move: they do not exist, or the leg would have taken a total
        past the 64-bit limit (the UPDATE's guard left them)."""
        leg, account = _ENTRIES.c, _ACCOUNTS.c
        missing = self._session.scalar(
            select(func.count()).select_from(_ENTRIES.outerjoin(_ACCOUNTS, account.id == leg.account_id))
            .where(leg.transfer_id == self.transfer.id, account.id.is_(None)))
        key = self.transfer.idempotency_key
        if missing:
            raise BulkTransferMismatch(f"transfer {key!r}: {missing} of its {count} legs name "
                                       "ledger accounts that do not exist")
        for direction, side in ((DEBIT, "debits"), (CREDIT, "credits")):
            posted, pending = account[f"{side}_posted"], account[f"{side}_pending"]
            at_limit = self._session.scalar(
                select(leg.account_id).join(_ACCOUNTS, account.id == leg.account_id)
                .where(leg.transfer_id == self.transfer.id, leg.direction == direction,
                       or_(posted > MAX_TOTAL - leg.amount, posted > MAX_TOTAL - leg.amount - pending)).limit(1))
            if at_limit is not None:
                code = LedgerError.OVERFLOWS_DEBITS_POSTED if direction == DEBIT else LedgerError.OVERFLOWS_CREDITS_POSTED
                raise LedgerOverflow(code, account=at_limit)
        raise BulkTransferMismatch(f"transfer {key!r}: {count - self._moved} of its {count} legs did not move "
                                   "their accounts")

    def _replay_matches(self, entries: int, amount: int) -> Transfer:
        if (self.transfer.entry_count, self.transfer.amount) != (entries, amount):
            raise IdempotencyConflict(LedgerError.KEY_REUSED_BULK, key=self.transfer.idempotency_key,
                                      legs=self.transfer.entry_count, amount=self.transfer.amount)
        return self.transfer

    def _check_writable(self) -> None:
        if self._finished:
            raise InvalidTransition(LedgerError.REPLAYED if self.replayed else LedgerError.FINISHED, key=self.transfer.idempotency_key)


def begin_bulk_transfer(
    session: Session,
    *,
    idempotency_key: str,
    kind: str,
    basis: Mapping[str, object],
    now: datetime,
    member_id: int | None = None,
    case_id: int | None = None,
    run_id: int | None = None,
    memo: str = "",
    external_ref: str | None = None,
    key_is_new: bool = False,
) -> BulkTransfer:
    """Start a bulk transfer (posted, no legs yet), or replay the one posted under this key.

    ``basis`` (JSON values) stands for the legs in the content hash: the totals the transfer must
    reach, or the digest of the file its legs come from. ``key_is_new``: the caller looked the key
    up in this transaction already and found nothing.
    """
    _check_key(idempotency_key)
    refs = {"member_id": member_id, "case_id": case_id, "run_id": run_id}
    digest = content_hash(kind, (), pending=False, refs=refs, basis=basis)
    existing = None if key_is_new else find_transfer(session, idempotency_key)
    if existing is not None:
        return BulkTransfer(session, _replay_or_conflict(existing, digest), replayed=True, now=now)
    transfer = _insert_transfer(
        session, idempotency_key=idempotency_key, digest=digest, kind=kind, status="posted", amount=0,
        entry_count=0, refs=refs, memo=memo, external_ref=external_ref, now=now,
    )
    return BulkTransfer(session, transfer, replayed=False, now=now)


def _within_limit(column: str, amount: int | ColumnElement[int]) -> list[ColumnElement[bool]]:
    """SQL conditions: adding ``amount`` (a value or a column) to ``column`` keeps it, and its side's
    posted + pending, within the 64-bit limit; written so that nothing in them can overflow."""
    side = column.split("_", 1)[0]
    posted, pending = _ACCOUNTS.c[f"{side}_posted"], _ACCOUNTS.c[f"{side}_pending"]
    return [_ACCOUNTS.c[column] <= MAX_TOTAL - amount, posted <= MAX_TOTAL - amount - pending]


def _legs_subquery(source: LegSource) -> Subquery:
    """The leg source as a subquery. A ``text`` source's columns are declared here (``account_id``,
    ``amount``, both BIGINT), so its SQL must name them so; a ``Select`` must select them."""
    if isinstance(source, TextClause):
        source = source.columns(account_id=BigInteger, amount=BigInteger)
    legs = source.subquery("leg_source")
    missing = {"account_id", "amount"} - set(legs.c.keys())
    if missing:
        raise InvalidInput(LedgerError.LEG_SOURCE_COLUMNS, missing=tuple(sorted(missing)))
    return legs


def _reserve_account_ids(session: Session, count: int) -> int:
    """The first of ``count`` consecutive new ledger account ids, so no account row is read back."""
    if is_sqlite(session):
        # The transaction holds SQLite's one write lock (BEGIN IMMEDIATE), so max + 1 is ours.
        return (session.scalar(select(func.coalesce(func.max(LedgerAccount.id), 0))) or 0) + 1
    sequence = session.scalar(select(func.pg_get_serial_sequence("ledger_accounts", "id")))
    # Other writers of account rows wait while the ids are reserved (balances can still be read).
    session.execute(text("LOCK TABLE ledger_accounts IN EXCLUSIVE MODE"))
    current = session.scalar(select(func.coalesce(func.max(LedgerAccount.id), 0))) or 0
    session.execute(select(func.setval(sequence, current + count)))
    return current + 1

