"""Posting transfers: balanced, idempotent, append-only, two-phase where money leaves the bank.

Only the ledger package writes the ledger's tables: this module for transfers of a few legs known
in Python (``post_transfer``, ``resolve_pending``) and for opening accounts, ``ledger.bulk`` for
set-based transfers of many legs. Both share the checks and the content hash defined here.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from huzhu.db import affected_rows, sum_fen
from huzhu.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, InvalidTransition, NotFound
from huzhu.ledger.errors import MAX_TOTAL, LedgerError, LedgerOverflow, overflow_of, resolved
from huzhu.ledger.models import (
    CASE_POOL,
    CREDIT,
    CUSTODY_CASH,
    DEBIT,
    MEMBER_BALANCE,
    Entry,
    LedgerAccount,
    Transfer,
)
from huzhu.money import format_yuan

CUSTODY_CASH_CODE = "custody:cash"
# The custodian's cash is one balance kept in several ledger accounts ("shards") of kind
# custody_cash. Every deposit moves custody cash; one row would make every deposit in the
# country wait for the previous one's commit (measured: 25 of 32 connections waiting on that
# row lock during a launch surge). Shards spread that lock; the balance is their sum, which every
# report and invariant already takes over the kind. Shard 0 keeps the original code.
CUSTODY_CASH_SHARDS = 32


@dataclass(frozen=True)
class Leg:
    account_id: int
    direction: int  # DEBIT or CREDIT
    amount: int


def open_account(session: Session, *, kind: str, now: datetime, code: str | None = None) -> LedgerAccount:
    account = LedgerAccount(
        code=code,
        kind=kind,
        debits_must_not_exceed_credits=kind in (MEMBER_BALANCE, CASE_POOL),
        debits_posted=0,
        credits_posted=0,
        debits_pending=0,
        credits_pending=0,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def custody_cash_code(shard: int) -> str:
    return CUSTODY_CASH_CODE if shard == 0 else f"{CUSTODY_CASH_CODE}:{shard}"


def open_custody_cash_accounts(session: Session, *, now: datetime) -> None:
    """Create the custody cash shards that do not exist yet (at start-up, before any deposit)."""
    codes = {custody_cash_code(n) for n in range(CUSTODY_CASH_SHARDS)}
    existing = set(session.scalars(select(LedgerAccount.code).where(LedgerAccount.code.in_(codes))))
    for code in sorted(codes - existing):
        open_account(session, kind=CUSTODY_CASH, code=code, now=now)


SHARD_IDS_INFO_KEY = "custody_cash_shard_ids"


def custody_cash_account_id(session: Session, *, now: datetime, key: str = "") -> int:
    """The custody cash shard for a movement: chosen from its idempotency key, so a replay lands on
    the same shard and concurrent movements mostly land on different ones. Shard ids never change,
    so each platform remembers them (a dict shared by its sessions' ``info``)."""
    code = custody_cash_code(zlib.crc32(key.encode()) % CUSTODY_CASH_SHARDS)
    known: dict[str, int] = session.info.get(SHARD_IDS_INFO_KEY, {})
    if code in known:
        return known[code]
    account_id = session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == code))
    if account_id is None:
        return open_account(session, kind=CUSTODY_CASH, code=code, now=now).id  # committed later, not cached
    known[code] = account_id
    return account_id


def custody_cash_balance(session: Session) -> int:
    """Posted custody cash over every shard (debit-normal)."""
    return session.scalar(
        select(sum_fen(LedgerAccount.debits_posted - LedgerAccount.credits_posted))
        .where(LedgerAccount.kind == CUSTODY_CASH)
    ) or 0


def content_hash(
    kind: str, legs: Sequence[Leg], *, pending: bool, refs: Mapping[str, object],
    basis: Mapping[str, object] | None = None,
) -> str:
    """What a transfer says, hashed: the one definition, so a reused key with other content is refused.

    A bulk transfer (``ledger.bulk``) has no legs to hash before it writes them; its ``basis`` stands
    for them (the totals it must reach, or the digest of the file its legs come from). Without a
    basis the body is exactly what it always was, so stored hashes still match their replays.
    """
    body: dict[str, object] = {
        "kind": kind,
        "pending": pending,
        "legs": sorted((leg.account_id, leg.direction, leg.amount) for leg in legs),
        "refs": dict(refs),
    }
    if basis is not None:
        body["basis"] = dict(basis)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def find_transfer(session: Session, idempotency_key: str) -> Transfer | None:
    return session.scalar(select(Transfer).where(Transfer.idempotency_key == idempotency_key))


def _replay_or_conflict(existing: Transfer, digest: str) -> Transfer:
    if existing.content_hash != digest:
        raise IdempotencyConflict(LedgerError.KEY_REUSED, key=existing.idempotency_key)
    return existing


def _check_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > 160:
        raise InvalidInput(LedgerError.KEY_REQUIRED)


def _check_direction(direction: int) -> None:
    if direction not in (DEBIT, CREDIT):
        raise InvalidInput(LedgerError.LEG_DIRECTION)


def _check_leg(direction: int, amount: object) -> None:
    _check_direction(direction)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput(LedgerError.LEG_AMOUNT)


def _balanced_amount(legs: Sequence[Leg]) -> int:
    """Σ debits of valid, balanced legs; refuses anything else before a row is read or written."""
    if not legs:
        raise InvalidInput(LedgerError.ONE_EACH_SIDE)
    for leg in legs:
        _check_leg(leg.direction, leg.amount)
    debits = sum(leg.amount for leg in legs if leg.direction == DEBIT)
    credits = sum(leg.amount for leg in legs if leg.direction == CREDIT)
    if debits != credits:
        raise InvalidInput(LedgerError.UNBALANCED, debits=debits, credits=credits)
    return debits


def _lock_accounts(session: Session, account_ids: set[int]) -> dict[int, LedgerAccount]:
    """Lock the legs' ordinary accounts in id order; custody cash shards are left unlocked.

    The lock order is the same for every transfer so that none deadlock: the ordinary accounts by
    id (locked now, so the overdraft check reads committed values), then the custody cash shards
    by id (never locked here: they cannot be overdrawn, and their totals move last, just before
    commit, so the lock their UPDATE takes is held as briefly as possible).
    """
    return {
        a.id: a
        for a in session.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.id.in_(account_ids), LedgerAccount.kind != CUSTODY_CASH)
            .order_by(LedgerAccount.id)
            .with_for_update()
            # Re-read rows this session loaded before: the overdraft check needs the locked values.
            .execution_options(populate_existing=True)
        )
    }


def _check_overdraft(legs: Sequence[Leg], accounts: Mapping[int, LedgerAccount]) -> None:
    """Refuse the transfer if it would debit a liability past what it can still pay."""
    debit_by_account: dict[int, int] = {}
    for leg in legs:
        if leg.direction == DEBIT:
            debit_by_account[leg.account_id] = debit_by_account.get(leg.account_id, 0) + leg.amount
    for account_id, amount in debit_by_account.items():
        account = accounts.get(account_id)
        if account is not None and account.debits_must_not_exceed_credits and amount > account.available:
            raise InsufficientFunds(LedgerError.INSUFFICIENT, available=format_yuan(account.available),
                                    amount=format_yuan(amount), details={"account_id": account_id})


def _insert_transfer(
    session: Session, *, idempotency_key: str, digest: str, kind: str, status: str, amount: int,
    entry_count: int, refs: Mapping[str, int | None], memo: str, external_ref: str | None, now: datetime,
) -> Transfer:
    transfer = Transfer(
        idempotency_key=idempotency_key,
        content_hash=digest,
        kind=kind,
        status=status,
        amount=amount,
        entry_count=entry_count,
        member_id=refs["member_id"],
        case_id=refs["case_id"],
        run_id=refs["run_id"],
        memo=memo[:255],
        external_ref=external_ref,
        created_at=now,
    )
    session.add(transfer)
    session.flush()
    return transfer


def _insert_entries(session: Session, transfer_id: int, legs: Sequence[Leg]) -> None:
    session.add_all(
        Entry(transfer_id=transfer_id, account_id=leg.account_id, direction=leg.direction, amount=leg.amount)
        for leg in legs
    )
    session.flush()


def _total_column(direction: int, *, pending: bool) -> str:
    """The running total of ``ledger_accounts`` that a leg in ``direction`` moves."""
    return ("debits_" if direction == DEBIT else "credits_") + ("pending" if pending else "posted")


def _total_moves(legs: Sequence[Leg], *, pending: bool) -> dict[tuple[int, str], int]:
    """(account id, total column) → amount to add, one per account and column."""
    moves: dict[tuple[int, str], int] = {}
    for leg in legs:
        key = (leg.account_id, _total_column(leg.direction, pending=pending))
        moves[key] = moves.get(key, 0) + leg.amount
    return moves


TOTAL_COLUMNS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def _totals(account: LedgerAccount) -> dict[str, int]:
    return {column: getattr(account, column) for column in TOTAL_COLUMNS}


def _by_account(moves: Mapping[tuple[int, str], int]) -> dict[int, dict[str, int]]:
    grouped: dict[int, dict[str, int]] = {}
    for (account_id, column), amount in moves.items():
        grouped.setdefault(account_id, {})[column] = amount
    return grouped


def _check_overflow(moves: Mapping[tuple[int, str], int], accounts: Mapping[int, LedgerAccount]) -> None:
    """Refuse the transfer if it would take a total of one of ``accounts`` past 2^63 − 1, with the
    result code of the first total (accounts by id); before anything is written."""
    for account_id, account_moves in sorted(_by_account(moves).items()):
        account = accounts.get(account_id)
        if account is None:
            continue
        result = overflow_of(_totals(account), account_moves)
        if result is not None:
            raise LedgerOverflow(result, account=account_id)


def _within_limit(column: str, amount: int) -> list[ColumnElement[bool]]:
    """SQL conditions: adding ``amount`` to ``column`` keeps it and its side's posted + pending within
    the 64-bit limit (written so that nothing in them can overflow)."""
    side = column.split("_", 1)[0]
    posted, pending = getattr(LedgerAccount, f"{side}_posted"), getattr(LedgerAccount, f"{side}_pending")
    return [getattr(LedgerAccount, column) <= MAX_TOTAL - amount, posted <= MAX_TOTAL - amount - pending]


def _move_totals(session: Session, moves: Mapping[tuple[int, str], int], cash_ids: set[int]) -> None:
    """Add each move in SQL (column = column + amount): the ordinary accounts first, by id, then the
    custody cash shards; an account that does not exist, or a total the move would take past the
    64-bit limit, raises (and the transaction rolls back). The limit is part of the UPDATE, so a
    concurrent movement on an unlocked shard cannot slip past it."""
    for (account_id, column), amount in sorted(moves.items(), key=lambda kv: (kv[0][0] in cash_ids, kv[0])):
        where = [LedgerAccount.id == account_id, *_within_limit(column, amount)]
        if account_id in cash_ids:
            where.append(LedgerAccount.kind == CUSTODY_CASH)
        moved = session.execute(
            update(LedgerAccount).where(*where)
            .values({column: getattr(LedgerAccount, column) + amount})
            .execution_options(synchronize_session=False)
        )
        if affected_rows(moved) != 1:
            _refuse_move(session, account_id, {column: amount})


def _refuse_move(session: Session, account_id: int, account_moves: dict[str, int]) -> None:
    """Why a guarded move found no row: the account does not exist, or a total would overflow."""
    account = session.get(LedgerAccount, account_id, populate_existing=True)
    if account is None:
        raise NotFound(LedgerError.NO_SUCH_ACCOUNT, account=account_id)
    result = overflow_of(_totals(account), account_moves)
    if result is None:
        raise NotFound(LedgerError.NOT_CUSTODY_CASH, account=account_id)
    raise LedgerOverflow(result, account=account_id)


def _record_locked_totals(accounts: Mapping[int, LedgerAccount], moves: Mapping[tuple[int, str], int]) -> None:
    """The ordinary accounts are locked by this transaction since they were read, so their new
    totals are known exactly: record them as loaded instead of reading each row back."""
    for (account_id, column), amount in moves.items():
        account = accounts.get(account_id)
        if account is not None:
            set_committed_value(account, column, getattr(account, column) + amount)


def post_transfer(
    session: Session,
    *,
    idempotency_key: str,
    kind: str,
    legs: Sequence[Leg],
    now: datetime,
    pending: bool = False,
    member_id: int | None = None,
    case_id: int | None = None,
    run_id: int | None = None,
    memo: str = "",
    external_ref: str | None = None,
    key_is_new: bool = False,
) -> Transfer:
    """Write one balanced transfer and move the accounts' totals; replaying the key returns it.

    ``key_is_new``: the caller looked the key up in this transaction already and found nothing.
    """
    _check_key(idempotency_key)
    refs = {"member_id": member_id, "case_id": case_id, "run_id": run_id}
    digest = content_hash(kind, legs, pending=pending, refs=refs)
    existing = None if key_is_new else find_transfer(session, idempotency_key)
    if existing is not None:
        return _replay_or_conflict(existing, digest)
    amount = _balanced_amount(legs)
    accounts = _lock_accounts(session, {leg.account_id for leg in legs})
    # The other legs must name custody cash shards; their UPDATE finds them or raises.
    cash_ids = {leg.account_id for leg in legs} - accounts.keys()
    _check_overdraft(legs, accounts)  # before anything is written
    moves = _total_moves(legs, pending=pending)
    _check_overflow(moves, accounts)
    transfer = _insert_transfer(
        session, idempotency_key=idempotency_key, digest=digest, kind=kind,
        status="pending" if pending else "posted", amount=amount, entry_count=len(legs), refs=refs, memo=memo,
        external_ref=external_ref, now=now,
    )
    _insert_entries(session, transfer.id, legs)
    _move_totals(session, moves, cash_ids)
    _record_locked_totals(accounts, moves)
    session.flush()
    return transfer


def resolution_of(session: Session, pending: Transfer) -> Transfer | None:
    return session.scalar(select(Transfer).where(Transfer.pending_id == pending.id))


def transfer_state(session: Session, transfer: Transfer) -> str:
    """posted / pending / voided, following a pending transfer to its resolution."""
    if transfer.status != "pending":
        return transfer.status
    resolution = resolution_of(session, transfer)
    return "pending" if resolution is None else resolution.status


def resolve_pending(session: Session, *, pending: Transfer, post: bool, now: datetime, memo: str = "") -> Transfer:
    """Post or void a pending transfer by appending its resolution; replays return the first one."""
    if pending.status != "pending":
        raise InvalidTransition(LedgerError.NOT_PENDING, transfer=pending.id)
    status = "posted" if post else "voided"
    key = f"{pending.idempotency_key}:{status}"
    existing = resolution_of(session, pending)
    if existing is not None:
        if existing.status != status:
            raise InvalidTransition(LedgerError.ALREADY_RESOLVED, transfer=pending.id, status=resolved(existing.status))
        return existing
    # The same lock order as post_transfer: ordinary accounts by id, then custody cash shards.
    entries = session.scalars(
        select(Entry).join(LedgerAccount, LedgerAccount.id == Entry.account_id)
        .where(Entry.transfer_id == pending.id)
        .order_by(LedgerAccount.kind == CUSTODY_CASH, Entry.account_id)
    ).all()
    for entry in entries:
        column_pending = "debits_pending" if entry.direction == DEBIT else "credits_pending"
        column_posted = "debits_posted" if entry.direction == DEBIT else "credits_posted"
        values = {column_pending: getattr(LedgerAccount, column_pending) - entry.amount}
        if post:
            values[column_posted] = getattr(LedgerAccount, column_posted) + entry.amount
        session.execute(update(LedgerAccount).where(LedgerAccount.id == entry.account_id).values(**values))
    resolution = Transfer(
        idempotency_key=key,
        content_hash=hashlib.sha256(key.encode()).hexdigest(),
        kind=pending.kind,
        status=status,
        pending_id=pending.id,
        amount=pending.amount,
        entry_count=0,
        member_id=pending.member_id,
        case_id=pending.case_id,
        run_id=pending.run_id,
        memo=memo[:255],
        created_at=now,
    )
    session.add(resolution)
    session.flush()
    session.expire_all()
    return resolution


def account_or_raise(session: Session, account_id: int) -> LedgerAccount:
    account = session.get(LedgerAccount, account_id)
    if account is None:
        raise NotFound(LedgerError.NO_SUCH_ACCOUNT, account=account_id)
    return account
