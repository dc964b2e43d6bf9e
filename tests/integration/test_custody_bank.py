"""The custodian bank as its own service (in-process here, its own database, the same XML messages as
over HTTP): deposits booked from camt.054 alone, payments as pain.001 answered by pain.002, returns,
the bank down, statements reconciled and published, the exceptions queue under four eyes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from huzhu.accounts.models import Account
from huzhu.banking import exceptions as queue
from huzhu.banking import sync as banking
from huzhu.clock import FixedClock
from huzhu.custody.bank_models import (
    BankCursor,
    BankEntry,
    CustodyException,
    OutgoingPayment,
    StatementImport,
)
from huzhu.errors import Forbidden
from huzhu.ledger.models import Transfer
from huzhu.ledger.service import custody_cash_balance
from huzhu.members import service as members
from huzhu.members.models import Member
from huzhu.platform import Platform
from huzhu.transparency.models import PublicRecord
from huzhu_bank.models import Payment
from huzhu_bank.signing import verify_note

from .custody_world import close, link, new_member, pay_in, platform_with_local_bank, sync
from .helpers import available, make_staff

pytestmark = pytest.mark.db


@pytest.fixture
def bank_platform(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Platform]:
    built = platform_with_local_bank(database_url, tmp_path, clock)
    yield built
    close(built)


def _exceptions(platform: Platform, kind: str | None = None) -> list[CustodyException]:
    with platform.factory() as s:
        query = select(CustodyException).order_by(CustodyException.id)
        if kind:
            query = query.where(CustodyException.kind == kind)
        return list(s.scalars(query))


def _balance(platform: Platform, member_id: int) -> int:
    with platform.factory() as s:
        return available(s, member_id)


def _reset_cursor(platform: Platform, name: str) -> None:
    with platform.session() as s:
        s.execute(update(BankCursor).where(BankCursor.name == name).values(value=0))


def _withdraw(platform: Platform, member_id: int, amount_fen: int, account: str, key: str) -> str:
    with platform.session() as s:
        member = s.get(Member, member_id)
        return members.withdraw(s, platform.custodian, plans=platform.plans, member=member, amount_fen=amount_fen,
                                bank_account=account, now=platform.clock.now(), idempotency_key=key)


def _outgoing(platform: Platform) -> list[OutgoingPayment]:
    with platform.factory() as s:
        return list(s.scalars(select(OutgoingPayment).order_by(OutgoingPayment.id)))


def _funded_member(platform: Platform, phone: str, amount: str = "100.00") -> int:
    _account, member_id = new_member(platform, phone=phone)
    sync(platform)  # opens the member's virtual account at the bank
    pay_in(platform, member_id, amount, f"E2E-{phone}")
    sync(platform)
    return member_id


def test_deposit_booked_from_camt054_once(bank_platform: Platform) -> None:
    _account, member_id = new_member(bank_platform, phone="13900000001")
    report = sync(bank_platform)
    assert report.references_opened == 1 and not report.error
    assert _balance(bank_platform, member_id) == 0
    answer = pay_in(bank_platform, member_id, "25.50", "PAYERBANK-1")
    assert answer["known_reference"] is True
    assert _balance(bank_platform, member_id) == 0, "nothing is booked before the bank's notification is read"
    report = sync(bank_platform)
    assert report.deposits_booked == 1
    assert _balance(bank_platform, member_id) == 2550
    # The same camt.054 read again (the cursor lost, or the bank resending): booked once.
    _reset_cursor(bank_platform, "notifications")
    report = sync(bank_platform)
    assert report.notifications >= 1 and report.deposits_booked == 0
    assert _balance(bank_platform, member_id) == 2550
    with bank_platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(Transfer).where(Transfer.kind == "deposit")) == 1
        assert custody_cash_balance(s) == 2550


def test_top_up_without_the_bank_is_refused(bank_platform: Platform) -> None:
    _account, member_id = new_member(bank_platform, phone="13900000002")
    with pytest.raises(Exception, match="bank transfer"), bank_platform.session() as s:
        members.top_up(s, bank_platform.custodian, plans=bank_platform.plans, member=s.get(Member, member_id),
                       amount_fen=900, now=bank_platform.clock.now(), idempotency_key="t-1")


def test_unknown_reference_goes_to_the_queue_and_is_booked_with_four_eyes(bank_platform: Platform,
                                                                          clock: FixedClock) -> None:
    staff = make_staff(bank_platform, clock)
    _account, member_id = new_member(bank_platform, phone="13900000003")
    sync(bank_platform)
    pay_in(bank_platform, member_id, "9.00", "PAYERBANK-X", quote="NOBODY-42")
    sync(bank_platform)
    assert _balance(bank_platform, member_id) == 0, "never into a guessed account"
    [exc] = _exceptions(bank_platform, "unknown_reference")
    assert exc.amount_fen == 900 and exc.status == "open"
    now = clock.now()
    with bank_platform.session() as s:
        admin = s.get(Account, staff.admin_id)
        queue.propose(s, exception_id=exc.id, actor=admin, resolution="book_to_member", target=str(member_id),
                      note="the member phoned: typo in the reference", now=now)
    with pytest.raises(Forbidden), bank_platform.session() as s:
        queue.approve(s, exception_id=exc.id, actor=s.get(Account, staff.admin_id), custodian=bank_platform.custodian,
                      now=now)
    assert _balance(bank_platform, member_id) == 0
    with bank_platform.session() as s:
        queue.approve(s, exception_id=exc.id, actor=s.get(Account, staff.reviewer_id),
                      custodian=bank_platform.custodian, now=now)
    assert _balance(bank_platform, member_id) == 900
    [exc] = _exceptions(bank_platform, "unknown_reference")
    assert exc.status == "resolved" and exc.approved_by_account_id == staff.reviewer_id


def test_payment_out_accepted_then_posted(bank_platform: Platform) -> None:
    member_id = _funded_member(bank_platform, "13900000004")
    assert _withdraw(bank_platform, member_id, 3000, "6222020200009999888", "w-1") == "pending"
    assert _balance(bank_platform, member_id) == 7000  # reserved by the pending transfer
    [out] = _outgoing(bank_platform)
    assert out.status == "queued"
    sync(bank_platform)
    assert _outgoing(bank_platform)[0].status == "accepted"
    link(bank_platform).sandbox.process()
    sync(bank_platform)
    [out] = _outgoing(bank_platform)
    assert out.status == "settled"
    with bank_platform.factory() as s:
        pending = s.get(Transfer, out.pending_transfer_id)
        assert s.scalar(select(Transfer.status).where(Transfer.pending_id == pending.id)) == "posted"
        assert custody_cash_balance(s) == 7000
    assert _balance(bank_platform, member_id) == 7000


def test_rejected_payment_is_voided_with_the_reason_and_a_retry_pays(bank_platform: Platform) -> None:
    member_id = _funded_member(bank_platform, "13900000005")
    link(bank_platform).sandbox.reject_account("6222020200001111000", "AC04")
    _withdraw(bank_platform, member_id, 4000, "6222020200001111000", "w-bad")
    sync(bank_platform)
    link(bank_platform).sandbox.process()
    sync(bank_platform)
    [out] = _outgoing(bank_platform)
    assert (out.status, out.reason_code) == ("rejected", "AC04")
    with bank_platform.factory() as s:
        void = s.scalar(select(Transfer).where(Transfer.pending_id == out.pending_transfer_id))
        assert void.status == "voided" and "AC04" in void.memo
    assert _balance(bank_platform, member_id) == 10000
    # Retried to a corrected account (a new key, so a new EndToEndId): paid.
    _withdraw(bank_platform, member_id, 4000, "6222020200002222000", "w-good")
    sync(bank_platform)
    link(bank_platform).sandbox.process()
    sync(bank_platform)
    assert [o.status for o in _outgoing(bank_platform)] == ["rejected", "settled"]
    assert _balance(bank_platform, member_id) == 6000


def test_returned_after_posting_is_reversed_and_reinstructed(bank_platform: Platform, clock: FixedClock) -> None:
    staff = make_staff(bank_platform, clock)
    member_id = _funded_member(bank_platform, "13900000006")
    _withdraw(bank_platform, member_id, 5000, "6222020200003333000", "w-ret")
    sync(bank_platform)
    link(bank_platform).sandbox.process()
    sync(bank_platform)
    [out] = _outgoing(bank_platform)
    assert _balance(bank_platform, member_id) == 5000
    link(bank_platform).sandbox.return_payment(out.end_to_end_id, "AC04")
    sync(bank_platform)
    assert _outgoing(bank_platform)[0].status == "returned"
    assert _balance(bank_platform, member_id) == 10000, "the reversal put the money back"
    with bank_platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(Transfer).where(Transfer.kind == "payment_return")) == 1
    [exc] = _exceptions(bank_platform, "returned_payment")
    now = clock.now()
    with bank_platform.session() as s:
        queue.propose(s, exception_id=exc.id, actor=s.get(Account, staff.reviewer_id), resolution="reinstruct",
                      target="6222020200004444000", note="payee gave a new account", now=now)
    with bank_platform.session() as s:
        queue.approve(s, exception_id=exc.id, actor=s.get(Account, staff.admin_id), custodian=bank_platform.custodian,
                      now=now)
    assert _balance(bank_platform, member_id) == 5000
    sync(bank_platform)
    link(bank_platform).sandbox.process()
    sync(bank_platform)
    assert [o.status for o in _outgoing(bank_platform)] == ["returned", "settled"]
    # Again (a replayed sync): nothing more.
    _reset_cursor(bank_platform, "notifications")
    sync(bank_platform)
    assert _balance(bank_platform, member_id) == 5000
    with bank_platform.factory() as s:
        assert custody_cash_balance(s) == 5000


def test_bank_down_then_back_nothing_lost_or_doubled(bank_platform: Platform) -> None:
    member_id = _funded_member(bank_platform, "13900000007")
    connector = link(bank_platform).connector
    connector.down = True
    _withdraw(bank_platform, member_id, 1000, "6222020200005555000", "w-down-1")
    _withdraw(bank_platform, member_id, 2000, "6222020200005555001", "w-down-2")
    report = sync(bank_platform)
    assert report.error and report.sent == 0
    assert [o.status for o in _outgoing(bank_platform)] == ["queued", "queued"]
    assert _outgoing(bank_platform)[0].attempts == 1
    connector.down = False
    assert sync(bank_platform).sent == 2
    # A lost answer makes the platform send again: the bank takes it as a repeat.
    with bank_platform.session() as s:
        s.execute(update(OutgoingPayment).values(status="queued"))
    sync(bank_platform)
    link(bank_platform).sandbox.process()
    sync(bank_platform)
    assert [o.status for o in _outgoing(bank_platform)] == ["settled", "settled"]
    with link(bank_platform).runtime.reader() as bank_session:
        assert bank_session.scalar(select(func.count()).select_from(Payment)) == 2
    assert _balance(bank_platform, member_id) == 7000


def test_statement_reconciled_published_and_attested(bank_platform: Platform) -> None:
    member_id = _funded_member(bank_platform, "13900000008")
    _withdraw(bank_platform, member_id, 2500, "6222020200006666000", "w-st")
    sync(bank_platform)
    closed = link(bank_platform).sandbox.close_day()
    report = sync(bank_platform)
    assert report.statements, report.error
    with bank_platform.factory() as s:
        [imported] = s.scalars(select(StatementImport)).all()
        assert (imported.lines, imported.matched_lines, imported.unmatched_lines) == (2, 2, 0)
        assert imported.sha256 == closed.sha256
        records = {r.kind: json.loads(r.payload) for r in s.scalars(select(PublicRecord))}
    recon = records["custody_reconciliation"]
    assert recon["statement_sha256"] == closed.sha256 and recon["matched"] == 2 and recon["unmatched"] == 0
    attestation = records["custody_attestation"]
    assert {"business_date", "closing_balance", "statement_sha256", "note", "bank_key"} <= attestation.keys()
    assert attestation["closing_balance"] == "75.00" == closed.closing_balance
    assert attestation["statement_sha256"] == closed.sha256
    assert f"statement-sha256 {closed.sha256}" in verify_note(attestation["note"], attestation["bank_key"])
    assert _exceptions(bank_platform) == []
    # The same statement again (the cursor lost): an exception, not a second reconciliation.
    _reset_cursor(bank_platform, "statements")
    sync(bank_platform)
    assert [e.kind for e in _exceptions(bank_platform)] == ["duplicate_statement"]
    with bank_platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(StatementImport)) == 1


def test_unmatched_lines_and_gaps_go_to_the_queue(bank_platform: Platform) -> None:
    _account, member_id = new_member(bank_platform, phone="13900000009")
    sync(bank_platform)
    pay_in(bank_platform, member_id, "12.00", "PAYERBANK-U")
    link(bank_platform).sandbox.close_day()
    pay_in(bank_platform, member_id, "3.00", "PAYERBANK-V")
    link(bank_platform).sandbox.close_day()
    connector = link(bank_platform).connector

    class SkipsFirst:
        """The bank's statement list with number 1 missing (a gap), notifications never read."""

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(connector, name)

        def statements(self, after: int, limit: int = 100):  # noqa: ANN201
            return [s for s in connector.statements(after, limit) if s.seq != 1]

    results = banking.import_statements(bank_platform.factory, SkipsFirst(), now=bank_platform.clock.now())
    assert [r.seq for r in results] == [2]
    kinds = sorted(e.kind for e in _exceptions(bank_platform))
    assert kinds == ["sequence_gap", "unmatched_line"], "line of 3.00 matched no booking: notifications unread"
    with bank_platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(BankEntry)) == 0
