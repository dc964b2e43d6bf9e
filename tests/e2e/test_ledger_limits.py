"""The ledger's limits, as TigerBeetle has them, and idempotency keys on every money-moving request.

9,300 maximal top-ups on one member once turned its ``credits_posted`` into a float on SQLite and
``huzhu ledger check`` crashed. Now a transfer that would take any total past 2^63 − 1 is refused
before anything is written, with the result code of the total (``overflows_credits_posted`` …);
the check reports broken rows instead of crashing; a money-moving request without an
``Idempotency-Key`` (or with two) is refused; stored keys are purged after their retention.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from typer.testing import CliRunner

from e2e.helpers import MEMBER_PASSWORD, LiveServer, actor, create_staff
from huzhu.accounts.models import LoginSession
from huzhu.config import get_settings
from huzhu.http.models import IdempotencyRecord
from huzhu.identity import make_resident_id
from huzhu.ledger.errors import MAX_TOTAL, LedgerError, overflow_of
from huzhu.ledger.models import CREDIT, CUSTODY_CASH, DEBIT, Entry, LedgerAccount, Transfer
from huzhu.ledger.service import Leg, custody_cash_account_id, post_transfer
from huzhu.members.models import Member
from huzhu.platform import Platform

pytestmark = pytest.mark.e2e

TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def ledger_rows(platform: Platform) -> tuple[int, int]:
    with platform.factory() as s:
        return (s.scalar(select(func.count()).select_from(Transfer)) or 0,
                s.scalar(select(func.count()).select_from(Entry)) or 0)


def member_with_balance(live: LiveServer) -> tuple[object, int, int]:
    assert live.client().post("/auth/register", json={"login": "13700000001", "password": MEMBER_PASSWORD,
                                                      "display_name": "限额"}).status_code == 201
    member = actor(live, "13700000001", MEMBER_PASSWORD)
    member_id = member.post("/members", json={"name": "限额", "id_number": make_resident_id(
        "110101", date(1980, 1, 1), 5, "F")}).json()["id"]
    assert member.post(f"/members/{member_id}/top-ups", json={"amount": "9.00"},
                       headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 201
    with live.platform.factory() as s:
        account_id = s.scalar(select(Member.ledger_account_id).where(Member.id == member_id))
    return member, member_id, account_id


def test_a_transfer_that_would_overflow_a_total_is_refused_with_its_code(live: LiveServer) -> None:
    member, member_id, account_id = member_with_balance(live)
    top_up = f"/members/{member_id}/top-ups"
    # The member's posted credits are 10.00 short of the limit: a 9.00 top-up still fits ...
    with live.platform.session() as s:
        s.execute(update(LedgerAccount).where(LedgerAccount.id == account_id).values(credits_posted=MAX_TOTAL - 1000))
    assert member.post(top_up, json={"amount": "9.00"}, headers={"Idempotency-Key": str(uuid.uuid4())}
                       ).status_code == 201
    # ... the next one does not: refused with TigerBeetle's result code, nothing written.
    before = ledger_rows(live.platform)
    refused = member.post(top_up, json={"amount": "9.00"}, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "ledger.overflows_credits_posted" and problem["details"]["result"] == \
        "overflows_credits_posted"
    assert problem["params"] == {"account": account_id, "limit": MAX_TOTAL}
    assert ledger_rows(live.platform) == before
    with live.platform.factory() as s:
        assert s.get(LedgerAccount, account_id).credits_posted == MAX_TOTAL - 100  # an integer, exactly

    # The custody cash side (the shards are not locked: the limit is in the UPDATE itself).
    with live.platform.session() as s:
        s.execute(update(LedgerAccount).where(LedgerAccount.id == account_id).values(credits_posted=900))
        s.execute(update(LedgerAccount).where(LedgerAccount.kind == CUSTODY_CASH).values(debits_posted=MAX_TOTAL - 1))
    refused = member.post(top_up, json={"amount": "0.02"}, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert refused.status_code == 422 and refused.json()["code"] == "ledger.overflows_debits_posted", refused.text
    assert ledger_rows(live.platform) == before


def test_each_total_and_each_side_has_its_result_code(platform: Platform) -> None:
    """Pending and posted, one column or a side's posted and pending together (TigerBeetle's order)."""
    near = {c: 0 for c in TOTALS}
    assert overflow_of(near, {"debits_posted": MAX_TOTAL}) is None
    assert overflow_of({**near, "debits_pending": MAX_TOTAL}, {"debits_pending": 1}) == \
        LedgerError.OVERFLOWS_DEBITS_PENDING
    assert overflow_of({**near, "credits_pending": MAX_TOTAL}, {"credits_pending": 1}) == \
        LedgerError.OVERFLOWS_CREDITS_PENDING
    assert overflow_of({**near, "debits_posted": MAX_TOTAL - 5, "debits_pending": 5}, {"debits_posted": 1}) == \
        LedgerError.OVERFLOWS_DEBITS
    assert overflow_of({**near, "credits_posted": 5, "credits_pending": MAX_TOTAL - 5}, {"credits_pending": 1}) == \
        LedgerError.OVERFLOWS_CREDITS
    # Through the ledger on a real database: a pending transfer past the side's limit.
    from huzhu.ledger.errors import LedgerOverflow
    from huzhu.ledger.service import open_account

    with platform.session() as s:
        account = open_account(s, kind="test", now=platform.clock.now())
        account.debits_posted = MAX_TOTAL - 10
        s.flush()
        cash = custody_cash_account_id(s, now=platform.clock.now(), key="k")
        with pytest.raises(LedgerOverflow) as info:
            post_transfer(s, idempotency_key="overflow-pending", kind="test", now=platform.clock.now(), pending=True,
                          legs=[Leg(account.id, DEBIT, 11), Leg(cash, CREDIT, 11)])
        assert info.value.code == LedgerError.OVERFLOWS_DEBITS
        assert s.scalar(select(func.count()).select_from(Transfer).where(
            Transfer.idempotency_key == "overflow-pending")) == 0


def ledger_check(database_url: str, data_dir: Path) -> tuple[int, str]:
    from huzhu.cli import app

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ledger", "check"], env={
            "HUZHU_DATABASE_URL": database_url, "HUZHU_MODE": "sandbox", "HUZHU_DATA_DIR": str(data_dir)})
    finally:
        get_settings.cache_clear()
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_ledger_check_reports_broken_totals_and_never_crashes(platform: Platform, database_url: str,
                                                             tmp_path: Path) -> None:
    with platform.session() as s:
        ids = list(s.scalars(select(LedgerAccount.id).where(LedgerAccount.kind == CUSTODY_CASH).limit(3)))
        # Rows written before the limit existed: two totals at the limit make every sum pass 64 bits.
        s.execute(update(LedgerAccount).where(LedgerAccount.id.in_(ids[:2])).values(debits_posted=MAX_TOTAL))
        if platform.engine.dialect.name == "sqlite":
            # What 9,300 maximal top-ups left behind on SQLite: a total turned floating point.
            s.execute(text("UPDATE ledger_accounts SET credits_posted = 9.3e18 WHERE id = :id"), {"id": ids[2]})
    code, output = ledger_check(database_url, tmp_path)
    assert code == 1, output
    assert "Traceback" not in output and "BROKEN" in output
    assert "could not be checked" in output and ("overflow" in output or "out of range" in output), output
    if platform.engine.dialect.name == "sqlite":
        assert "totals_are_whole_fen" in output and "9.3e+18" in output


def test_money_moving_requests_need_exactly_one_idempotency_key(live: LiveServer) -> None:
    member, member_id, _account = member_with_balance(live)
    create_staff(live.platform, "admin", "admin@x.example", "管理员")
    admin = actor(live, "admin@x.example")
    before = ledger_rows(live.platform)
    requests = [(member, f"/members/{member_id}/top-ups", {"amount": "1.00"}),
                (member, f"/members/{member_id}/withdrawals", {"amount": "1.00", "bank_account": "6222020000000000055"}),
                (member, f"/members/{member_id}/enrollments", {"plan_code": "comprehensive-accident"}),
                (admin, "/runs", None)]
    for client, path, body in requests:
        missing = client.post(path, json=body)
        assert missing.status_code == 422, (path, missing.text)
        assert missing.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        twice = client.post(path, json=body, headers=[("Idempotency-Key", "a1"), ("Idempotency-Key", "b2")])
        assert twice.status_code == 400 and twice.json()["code"] == "http.idempotency_key_twice", twice.text
    assert ledger_rows(live.platform) == before


def test_stored_keys_and_ended_sessions_are_purged_after_their_retention(live: LiveServer, database_url: str,
                                                                         tmp_path: Path) -> None:
    from huzhu.cli import app

    member, member_id, _account = member_with_balance(live)
    with live.platform.session() as s:
        kept = s.scalar(select(func.count()).select_from(IdempotencyRecord))
        now = live.platform.clock.now_in(s)
        s.execute(update(IdempotencyRecord).values(created_at=now - timedelta(days=31)))
        s.execute(update(LoginSession).values(created_at=now - timedelta(days=90), expires_at=now - timedelta(days=60)))
    assert member.post(f"/members/{member_id}/top-ups", json={"amount": "1.00"},
                       headers={"Idempotency-Key": "recent-key"}).status_code in (201, 401)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["maintenance", "purge"], env={
            "HUZHU_DATABASE_URL": database_url, "HUZHU_MODE": "sandbox", "HUZHU_DATA_DIR": str(tmp_path)})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"purged {kept} stored idempotent responses (older than 30 days)" in result.output
    with live.platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1  # the recent one stays
