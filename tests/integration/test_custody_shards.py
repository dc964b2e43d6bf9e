"""Custody cash is one balance kept in several ledger accounts (shards), so concurrent deposits do
not queue on one row lock. These tests hold the sharded books to the same rules as one account:
the balance is the sum, a replay lands on the same shard and moves nothing, the custodian's own
books agree, and top-ups and withdrawals racing on the same members neither deadlock nor lose
money."""

from __future__ import annotations

import threading
import zlib

from sqlalchemy import func, select

from huzhu.clock import FixedClock
from huzhu.custody.service import reconcile
from huzhu.errors import InsufficientFunds
from huzhu.ledger.invariants import check_ledger
from huzhu.ledger.models import CUSTODY_CASH, LedgerAccount
from huzhu.ledger.service import CUSTODY_CASH_SHARDS, custody_cash_balance, custody_cash_code
from huzhu.members import service as members
from huzhu.platform import Platform

from .helpers import ACCIDENT, at, available, join_member


def _shard_totals(platform: Platform) -> dict[str, int]:
    with platform.factory() as s:
        return {code: debits - credits for code, debits, credits in s.execute(
            select(LedgerAccount.code, LedgerAccount.debits_posted, LedgerAccount.credits_posted)
            .where(LedgerAccount.kind == CUSTODY_CASH))}


def test_deposits_spread_over_the_shards_and_the_books_still_add_up(platform: Platform, clock: FixedClock) -> None:
    with platform.factory() as s:
        codes = set(s.scalars(select(LedgerAccount.code).where(LedgerAccount.kind == CUSTODY_CASH)))
    assert codes == {custody_cash_code(n) for n in range(CUSTODY_CASH_SHARDS)}, "every shard exists before use"

    who = join_member(platform, clock, plans=(ACCIDENT,))  # deposit key join-<member>-<plan>
    keys = [f"top-up-{n}" for n in range(40)]
    with platform.session() as s:
        member = members.member_or_raise(s, who.member_id)
        for n, key in enumerate(keys):
            members.top_up(s, platform.custodian, plans=platform.plans, member=member, amount_fen=100 + n,
                           now=clock.now(), idempotency_key=key)
    deposited = 900 + sum(100 + n for n in range(40))

    totals = _shard_totals(platform)
    expected_shards = {custody_cash_code(zlib.crc32(k.encode()) % CUSTODY_CASH_SHARDS)
                       for k in [*keys, f"join-{who.member_id}-{ACCIDENT}"]}
    assert {code for code, fen in totals.items() if fen} == expected_shards
    assert len(expected_shards) > 10  # 41 keys over 32 shards: spread, not piled on one row
    assert sum(totals.values()) == deposited
    with platform.factory() as s:
        assert custody_cash_balance(s) == deposited == available(s, who.member_id)
        assert check_ledger(s) == []

    # A replayed key lands on the same shard and moves nothing.
    with platform.session() as s:
        members.top_up(s, platform.custodian, plans=platform.plans, member=members.member_or_raise(s, who.member_id),
                       amount_fen=100, now=clock.now(), idempotency_key=keys[0])
    assert _shard_totals(platform) == totals

    # The custodian's statement matches the sum of the shards.
    clock.set(at("2015-03-02"))
    with platform.session() as s:
        record = reconcile(s, platform.custodian, start=at("2015-01-01"), end=clock.now(), now=clock.now())
        assert record.matched, record.detail
        assert record.ledger_custody_fen == record.bank_closing_fen == deposited


def _key_on_shard(prefix: str, shard: int = 0) -> str:
    """An idempotency key whose movement lands on ``shard`` (the worst case: one hot row again)."""
    return next(key for n in range(10_000) if zlib.crc32((key := f"{prefix}-{n}").encode()) % CUSTODY_CASH_SHARDS
                == shard)


def test_racing_top_ups_and_withdrawals_on_the_same_members(platform: Platform, clock: FixedClock) -> None:
    """Every movement on one shard and three members: the lock order (members, then cash) must
    keep withdrawals (which lock the member first) and top-ups from deadlocking."""
    people = [join_member(platform, clock, plans=(ACCIDENT,)) for _ in range(3)]
    errors: list[BaseException] = []
    refused = []

    def worker(t: int) -> None:
        for n in range(12):
            who = people[(t + n) % len(people)]
            try:
                with platform.session() as s:
                    member = members.member_or_raise(s, who.member_id)
                    if n % 3 == 2:
                        members.withdraw(s, platform.custodian, plans=platform.plans, member=member, amount_fen=250,
                                         bank_account="6222020000000000123", now=clock.now(),
                                         idempotency_key=_key_on_shard(f"race-out-{t}-{n}"))
                    else:
                        members.top_up(s, platform.custodian, plans=platform.plans, member=member,
                                       amount_fen=100, now=clock.now(), idempotency_key=_key_on_shard(f"race-in-{t}-{n}"))
            except InsufficientFunds:
                refused.append((t, n))
            except BaseException as exc:  # noqa: BLE001 - a deadlock or lost update must fail the test
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    withdrawals = 8 * 4 - len(refused)
    with platform.factory() as s:
        balances = sum(available(s, p.member_id) for p in people)
        assert balances == 3 * 900 + 8 * 8 * 100 - withdrawals * 250
        assert custody_cash_balance(s) == balances
        assert s.scalar(select(func.count()).select_from(LedgerAccount)
                        .where(LedgerAccount.kind == CUSTODY_CASH)) == CUSTODY_CASH_SHARDS
        assert check_ledger(s) == []
