"""The ledger's bulk transfers (``ledger.bulk``) on a real database, SQLite and PostgreSQL: legs from
a query with the balances moved set-based, single legs, accounts opened already credited,
replays and conflicts, and ``finish`` refusing — with everything rolled back — a transfer that
does not balance or is not what its caller expected."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import BigInteger, column, select, table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huzhu.clock import FixedClock
from huzhu.custody.models import BankTransaction
from huzhu.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, InvalidTransition, NotFound
from huzhu.ledger.bulk import BulkTransfer, BulkTransferMismatch, begin_bulk_transfer
from huzhu.ledger.invariants import check_ledger
from huzhu.ledger.models import (
    CASE_POOL,
    CREDIT,
    CUSTODY_CASH,
    DEBIT,
    MEMBER_BALANCE,
    LedgerAccount,
    Transfer,
)
from huzhu.ledger.service import Leg, custody_cash_account_id, open_account, post_transfer
from huzhu.platform import Platform

from .helpers import count_rows

WRITES = ("ledger_accounts", "ledger_transfers", "ledger_entries", "bank_transactions")
FEES = table("fees", column("account_id", BigInteger), column("amount", BigInteger))


def _fund(platform: Platform, clock: FixedClock, balances: Sequence[int], *, key: str = "opening") -> list[int]:
    """Member balance accounts opened already credited, from custody cash (mirrored by the bank)."""
    total = sum(balances)
    with platform.session() as s:
        now = clock.now()
        opening = begin_bulk_transfer(s, idempotency_key=key, kind="import", basis={"balances": list(balances)},
                                      now=now, external_ref=key)
        accounts = opening.open_credited_accounts(list(balances), kind=MEMBER_BALANCE)
        opening.add_leg(custody_cash_account_id(s, now=now, key=key), direction=DEBIT, amount=total)
        s.add(BankTransaction(end_to_end_id=key, direction="CRDT", amount_fen=total, booked_at=now,
                              remittance_info="opening balances", rejected=False))
        opening.finish(entries=sum(1 for b in balances if b) + 1, amount=total)
        return list(accounts)


def _pool(platform: Platform, clock: FixedClock) -> int:
    with platform.session() as s:
        return open_account(s, kind=CASE_POOL, now=clock.now()).id


def _fees(s: Session, rows: Sequence[tuple[int, int]]) -> None:
    """A leg source like an apportionment's share pool: a temporary table of (account, amount)."""
    s.execute(text("CREATE TEMP TABLE fees (account_id BIGINT NOT NULL, amount BIGINT NOT NULL)"))
    s.execute(text("INSERT INTO fees (account_id, amount) VALUES (:account_id, :amount)"),
              [{"account_id": a, "amount": n} for a, n in rows])


def _credits(s: Session, account_id: int) -> int:
    account = s.get(LedgerAccount, account_id)
    assert account is not None
    return account.credit_balance


def _legs_of(s: Session, transfer_id: int) -> dict[tuple[int, int], int]:
    return {(int(a), int(d)): int(n) for a, d, n in s.execute(text(
        "SELECT account_id, direction, amount FROM ledger_entries WHERE transfer_id = :t"), {"t": transfer_id})}


def _begin_fees(s: Session, clock: FixedClock, *, key: str = "fees:1", amount: int = 605,
                entries: int = 4) -> BulkTransfer:
    return begin_bulk_transfer(s, idempotency_key=key, kind="share", basis={"entries": entries, "amount": amount},
                               now=clock.now(), memo="fees from a query")


def _post_fees(platform: Platform, clock: FixedClock, members: list[int], pool: int) -> int:
    """Three debits from two queries over the same table (one text with a bound parameter, one
    Select), one credit to the pool; returns the transfer id."""
    with platform.session() as s:
        _fees(s, [(members[0], 300), (members[1], 300), (members[2], 5)])
        fees = _begin_fees(s, clock)
        assert not fees.replayed
        assert fees.add_legs(text("SELECT account_id, amount FROM fees WHERE amount >= :minimum"), direction=DEBIT,
                             params={"minimum": 100}) == 2
        assert fees.add_legs(select(FEES.c.account_id, FEES.c.amount).where(FEES.c.amount < 100),
                             direction=DEBIT) == 1
        fees.add_leg(pool, direction=CREDIT, amount=605)
        transfer = fees.finish(entries=4, amount=605)
        assert (transfer.amount, transfer.entry_count) == (605, 4)
        return transfer.id


def test_legs_from_queries_move_every_balance_and_the_transfer_balances(platform: Platform,
                                                                       clock: FixedClock) -> None:
    members = _fund(platform, clock, [900, 900, 305, 0])
    pool = _pool(platform, clock)
    transfer_id = _post_fees(platform, clock, members, pool)
    with platform.factory() as s:
        assert [_credits(s, m) for m in members] == [600, 600, 300, 0]
        assert _credits(s, pool) == 605
        assert _legs_of(s, transfer_id) == {(members[0], DEBIT): 300, (members[1], DEBIT): 300,
                                            (members[2], DEBIT): 5, (pool, CREDIT): 605}
        transfer = s.get(Transfer, transfer_id)
        assert transfer is not None
        assert (transfer.kind, transfer.status, transfer.amount, transfer.entry_count) == ("share", "posted", 605, 4)
        assert check_ledger(s) == []


def test_accounts_opened_already_credited(platform: Platform, clock: FixedClock) -> None:
    first = _fund(platform, clock, [900, 0, 1205], key="opening-1")
    assert first == list(range(first[0], first[0] + 3))
    with platform.session() as s:  # an account opened the ordinary way takes the next free id
        single = open_account(s, kind=MEMBER_BALANCE, now=clock.now()).id
    second = _fund(platform, clock, [300], key="opening-2")
    assert first[-1] < single < second[0]
    with platform.factory() as s:
        accounts = {a.id: a for a in s.scalars(select(LedgerAccount).where(LedgerAccount.id.in_(first + second)))}
        assert [(accounts[i].kind, accounts[i].debits_must_not_exceed_credits, accounts[i].credits_posted,
                 accounts[i].debits_posted) for i in first] == [
            (MEMBER_BALANCE, True, 900, 0), (MEMBER_BALANCE, True, 0, 0), (MEMBER_BALANCE, True, 1205, 0)]
        opening = s.scalar(select(Transfer).where(Transfer.idempotency_key == "opening-1"))
        assert opening is not None and (opening.amount, opening.entry_count) == (2105, 3)
        legs = _legs_of(s, opening.id)
        assert {k: v for k, v in legs.items() if k[1] == CREDIT} == {(first[0], CREDIT): 900, (first[2], CREDIT): 1205}
        assert sum(v for k, v in legs.items() if k[1] == DEBIT) == 2105
        assert check_ledger(s) == []


def test_a_replay_returns_the_posted_transfer_and_other_content_conflicts(platform: Platform,
                                                                        clock: FixedClock) -> None:
    members = _fund(platform, clock, [900, 900, 305])
    pool = _pool(platform, clock)
    transfer_id = _post_fees(platform, clock, members, pool)
    with platform.factory() as s:
        before = count_rows(s, *WRITES), [_credits(s, m) for m in members]

    with platform.session() as s:
        replay = _begin_fees(s, clock)
        assert replay.replayed and replay.transfer.id == transfer_id
        with pytest.raises(InvalidTransition, match="replay"):
            replay.add_leg(pool, direction=CREDIT, amount=1)
        assert replay.finish(entries=4, amount=605).id == transfer_id
        with pytest.raises(IdempotencyConflict):
            replay.finish(entries=4, amount=600)
    with pytest.raises(IdempotencyConflict), platform.session() as s:
        _begin_fees(s, clock, amount=600)
    with pytest.raises(IdempotencyConflict), platform.session() as s:  # one key space with post_transfer
        post_transfer(s, idempotency_key="fees:1", kind="share", now=clock.now(),
                      legs=[Leg(members[0], DEBIT, 1), Leg(pool, CREDIT, 1)])
    with platform.factory() as s:
        assert (count_rows(s, *WRITES), [_credits(s, m) for m in members]) == before


def _unbalanced(fees: BulkTransfer, pool: int, members: list[int]) -> None:
    fees.add_legs(select(FEES.c.account_id, FEES.c.amount), direction=DEBIT)
    fees.add_leg(pool, direction=CREDIT, amount=604)
    fees.finish(entries=4, amount=605)


def _fewer_legs_than_expected(fees: BulkTransfer, pool: int, members: list[int]) -> None:
    fees.add_legs(select(FEES.c.account_id, FEES.c.amount), direction=DEBIT)
    fees.add_leg(pool, direction=CREDIT, amount=605)
    fees.finish(entries=5, amount=605)


def _another_total(fees: BulkTransfer, pool: int, members: list[int]) -> None:
    fees.add_legs(select(FEES.c.account_id, FEES.c.amount), direction=DEBIT)
    fees.add_leg(pool, direction=CREDIT, amount=605)
    fees.finish(entries=4, amount=600)


def _unknown_account(fees: BulkTransfer, pool: int, members: list[int]) -> None:
    fees.add_legs(text("SELECT account_id, amount FROM fees UNION ALL SELECT 999999, 7"), direction=DEBIT)
    fees.add_leg(pool, direction=CREDIT, amount=612)
    fees.finish(entries=5, amount=612)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (_unbalanced, "not balanced: debits 605 ≠ credits 604"),
        (_fewer_legs_than_expected, "wrote 4 legs totalling 605 fen, expected 5 totalling 605"),
        (_another_total, "wrote 4 legs totalling 605 fen, expected 4 totalling 600"),
        (_unknown_account, "1 of its 5 legs name ledger accounts that do not exist"),
    ],
)
def test_finish_refuses_a_transfer_that_is_not_as_expected_and_nothing_stays_written(
    platform: Platform, clock: FixedClock, write: Callable[[BulkTransfer, int, list[int]], None], message: str,
) -> None:
    members = _fund(platform, clock, [900, 900, 305])
    pool = _pool(platform, clock)
    with platform.factory() as s:
        before = count_rows(s, *WRITES), [_credits(s, a) for a in [*members, pool]]
    with pytest.raises(BulkTransferMismatch, match=message), platform.session() as s:
        _fees(s, [(members[0], 300), (members[1], 300), (members[2], 5)])
        write(_begin_fees(s, clock), pool, members)
    with platform.factory() as s:
        assert (count_rows(s, *WRITES), [_credits(s, a) for a in [*members, pool]]) == before
        assert check_ledger(s) == []


def test_no_path_overdraws_an_account(platform: Platform, clock: FixedClock) -> None:
    members = _fund(platform, clock, [900, 305])
    pool = _pool(platform, clock)
    with platform.factory() as s:
        before = count_rows(s, *WRITES), [_credits(s, m) for m in members]

    def single_leg(s: Session) -> None:
        _begin_fees(s, clock).add_leg(members[1], direction=DEBIT, amount=306)

    def query_legs(s: Session) -> None:
        _fees(s, [(members[0], 300), (members[1], 306)])
        _begin_fees(s, clock).add_legs(select(FEES.c.account_id, FEES.c.amount), direction=DEBIT)

    def missing_account(s: Session) -> None:
        _begin_fees(s, clock).add_leg(999999, direction=CREDIT, amount=5)

    for write, error in ((single_leg, InsufficientFunds), (query_legs, IntegrityError), (missing_account, NotFound)):
        with pytest.raises(error), platform.session() as s:
            write(s)
        with platform.factory() as s:
            assert (count_rows(s, *WRITES), [_credits(s, m) for m in members]) == before
    with platform.factory() as s:
        assert _credits(s, pool) == 0


def test_misuse_is_refused_before_anything_is_written(platform: Platform, clock: FixedClock) -> None:
    members = _fund(platform, clock, [900])
    with platform.factory() as s:
        before = count_rows(s, *WRITES)
    refusals: list[tuple[type[Exception], str, Callable[[BulkTransfer], object]]] = [
        (InvalidInput, "must select account_id and amount",
         lambda b: b.add_legs(select(FEES.c.account_id), direction=DEBIT)),
        (InvalidInput, "may not be named ledger_transfer_id",
         lambda b: b.add_legs(select(FEES.c.account_id, FEES.c.amount), direction=DEBIT,
                              params={"ledger_transfer_id": 1})),
        (InvalidInput, "debit \\(\\+1\\) or credit", lambda b: b.add_leg(members[0], direction=0, amount=5)),
        (InvalidInput, "positive whole number", lambda b: b.add_leg(members[0], direction=CREDIT, amount=0)),
        (InvalidInput, "positive whole number", lambda b: b.add_leg(members[0], direction=CREDIT, amount=True)),
        (InvalidInput, "only liability accounts", lambda b: b.open_credited_accounts([5], kind=CUSTODY_CASH)),
        (InvalidInput, "zero or more", lambda b: b.open_credited_accounts([5, -1])),
        (InvalidInput, "zero or more", lambda b: b.open_credited_accounts([5, 1.5])),  # type: ignore[list-item]
    ]
    for error, message, misuse in refusals:
        with pytest.raises(error, match=message), platform.session() as s:
            misuse(_begin_fees(s, clock))
        with platform.factory() as s:
            assert count_rows(s, *WRITES) == before, message
    with pytest.raises(InvalidInput, match="idempotency key"), platform.session() as s:
        _begin_fees(s, clock, key="")
    with pytest.raises(InvalidTransition, match="finished"), platform.session() as s:
        empty = _begin_fees(s, clock, amount=0, entries=0)
        empty.finish(entries=0, amount=0)
        empty.add_leg(members[0], direction=CREDIT, amount=1)
    with platform.factory() as s:
        assert count_rows(s, *WRITES) == before
