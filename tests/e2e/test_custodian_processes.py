"""Both processes: the bank served by ``huzhu custodian serve`` (its own database, mutual TLS, on the
ports 18300-18399) and the platform against it over HTTPS, on SQLite and PostgreSQL.

Deposit → camt.054 → booked; payout → pain.001 → accepted → posted; rejected → voided and retried;
returned after posting → reversed and re-instructed (four eyes); duplicate camt.054 and camt.053 →
booked once; unknown reference → exceptions; the bank down, then back → nothing lost or doubled;
kill -9 of the bank mid-flow, and of the platform's sync between a message and its commit →
consistent after restart."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from huzhu.accounts import service as accounts
from huzhu.accounts.models import Account
from huzhu.app import build_platform
from huzhu.banking import exceptions as queue
from huzhu.banking import sync as banking
from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.config import Settings
from huzhu.custody.bank_client import mtls_context
from huzhu.custody.bank_models import BankCursor, CustodyException, MemberReference, OutgoingPayment
from huzhu.identity import make_resident_id
from huzhu.ledger.invariants import check_ledger
from huzhu.ledger.models import Transfer
from huzhu.members import service as members
from huzhu.members.models import Member
from huzhu.platform import Platform
from huzhu_bank.certs import CA, CLIENT, CertPaths, make_certs

pytestmark = [pytest.mark.e2e, pytest.mark.db]

REPO = Path(__file__).resolve().parents[2]
SRC = str(REPO / "src")
# HUZHU_TEST_PORT_BASE: a run that must keep to ten given ports (base .. base+9).
PORT_BASE = int(os.environ.get("HUZHU_TEST_PORT_BASE", "18300"))
PORT_LAST = PORT_BASE + (9 if "HUZHU_TEST_PORT_BASE" in os.environ else 99)
PORTS = itertools.count(PORT_BASE)
_ids = itertools.count(1)


class Bank:
    """``huzhu custodian serve`` in a subprocess."""

    def __init__(self, workdir: Path, certs: CertPaths) -> None:
        self.workdir, self.certs = workdir, certs
        self.port = next(PORTS)
        if self.port > PORT_LAST:
            raise RuntimeError("out of this suite's ports")
        self.url = f"https://127.0.0.1:{self.port}"
        self.db = f"sqlite:///{(workdir / 'bank.sqlite').as_posix()}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": SRC}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "huzhu.cli", "custodian", "serve", "--certs", str(self.certs.directory),
             "--port", str(self.port), "--db", self.db, "--key", str(self.workdir / "bank-key.pem")],
            cwd=self.workdir, env=env, stdout=(self.workdir / "bank.log").open("ab"), stderr=subprocess.STDOUT)
        context = mtls_context(ca_file=str(self.certs.cert(CA)), cert_file=str(self.certs.cert(CLIENT)),
                               key_file=str(self.certs.key(CLIENT)))
        deadline = time.monotonic() + 40
        with httpx.Client(base_url=self.url, verify=context, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError((self.workdir / "bank.log").read_text()[-3000:])
                try:
                    client.get("/v1/public-key").raise_for_status()
                    return
                except httpx.TransportError:
                    time.sleep(0.2)
        raise RuntimeError("the bank did not start")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:  # uvicorn waits for the platform's kept-alive connection
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Platform, Bank, Settings]]:
    certs = make_certs(tmp_path / "certs", now=datetime.now(CHINA_TZ))
    bank = Bank(tmp_path, certs)
    bank.start()
    settings = Settings(mode="sandbox", database_url=database_url, data_dir=tmp_path / "data",
                        plans_dir=REPO / "plans", custody_bank=bank.url, custody_bank_certs=certs.directory)
    platform = build_platform(settings, clock=FixedClock(datetime(2016, 3, 1, 10, 0, tzinfo=CHINA_TZ)))
    try:
        yield platform, bank, settings
    finally:
        assert platform.bank is not None
        platform.bank.close()
        platform.engine.dispose()
        bank.stop()


def _sync(platform: Platform) -> banking.SyncReport:
    assert platform.bank is not None
    return banking.sync(platform.factory, platform.bank.connector, now=platform.clock.now(), plans=platform.plans)


def _member(platform: Platform, phone: str) -> int:
    with platform.session() as s:
        now = platform.clock.now()
        account = accounts.register_account(s, login=phone, password="test-pass-2016", display_name="会员", now=now)
        n = next(_ids)
        member = members.add_member(s, account_id=account.id, name="会员", now=now,
                                    id_number=make_resident_id("110101", date(1980, 1, 1 + n % 28), n,
                                                               "F"))
        return member.id


def _pay_in(platform: Platform, member_id: int, amount: str, e2e: str, quote: str | None = None) -> None:
    with platform.factory() as s:
        ref = s.scalar(select(MemberReference).where(MemberReference.member_id == member_id))
    assert platform.bank is not None and platform.bank.sandbox is not None
    platform.bank.sandbox.incoming_transfer(amount=amount, reference=quote or ref.virtual_account,
                                            payer_name="付款人", payer_account="6222020200001234567", end_to_end_id=e2e)


def _balance(platform: Platform, member_id: int) -> int:
    with platform.factory() as s:
        member = s.get(Member, member_id)
        return members.balance_of(s, member).available


def _withdraw(platform: Platform, member_id: int, fen: int, account: str, key: str) -> None:
    with platform.session() as s:
        members.withdraw(s, platform.custodian, plans=platform.plans, member=s.get(Member, member_id), amount_fen=fen,
                         bank_account=account, now=platform.clock.now(), idempotency_key=key)


def _statuses(platform: Platform) -> list[str]:
    with platform.factory() as s:
        return list(s.scalars(select(OutgoingPayment.status).order_by(OutgoingPayment.id)))


def _books_agree(platform: Platform) -> None:
    with platform.factory() as s:
        assert [v.message for v in check_ledger(s)] == []


def test_money_in_and_out_through_the_bank_process(world: tuple[Platform, Bank, Settings]) -> None:
    platform, bank, _settings = world
    sandbox = platform.bank.sandbox
    member_id = _member(platform, "13700000001")
    assert _sync(platform).references_opened == 1
    _pay_in(platform, member_id, "200.00", "PAYER-1")
    _pay_in(platform, member_id, "5.00", "PAYER-2", quote="NOSUCHREF")
    _sync(platform)
    assert _balance(platform, member_id) == 20000
    with platform.factory() as s:
        assert [e.kind for e in s.scalars(select(CustodyException))] == ["unknown_reference"]
    # duplicate camt.054: booked once
    with platform.session() as s:
        s.execute(update(BankCursor).where(BankCursor.name == "notifications").values(value=0))
    _sync(platform)
    assert _balance(platform, member_id) == 20000
    # out: accepted then posted
    _withdraw(platform, member_id, 3000, "6222020200007777000", "e2e-w1")
    _sync(platform)
    assert _statuses(platform) == ["accepted"]
    sandbox.process()
    _sync(platform)
    assert _statuses(platform) == ["settled"]
    # rejected: voided, then retried to a corrected account
    sandbox.reject_account("6222020200008888000", "AC04")
    _withdraw(platform, member_id, 1000, "6222020200008888000", "e2e-w2")
    _sync(platform)
    sandbox.process()
    _sync(platform)
    assert _statuses(platform) == ["settled", "rejected"]
    _withdraw(platform, member_id, 1000, "6222020200008888001", "e2e-w3")
    _sync(platform)
    sandbox.process()
    _sync(platform)
    assert _statuses(platform)[-1] == "settled"
    assert _balance(platform, member_id) == 16000
    # returned after posting: reversed, then re-instructed with four eyes
    with platform.factory() as s:
        first = s.scalar(select(OutgoingPayment.end_to_end_id).order_by(OutgoingPayment.id).limit(1))
    sandbox.return_payment(first, "AC04")
    _sync(platform)
    assert _balance(platform, member_id) == 19000
    with platform.session() as s:
        now = platform.clock.now()
        staff = [accounts.register_account(s, login=f"{r}{n}@huzhu.test", password="test-pass-2016",
                                           display_name=r, role=r, now=now).id
                 for n, r in enumerate(("admin", "reviewer"))]
        returned = s.scalar(select(CustodyException).where(CustodyException.kind == "returned_payment"))
        queue.propose(s, exception_id=returned.id, actor=s.get(Account, staff[0]), resolution="reinstruct",
                      target="6222020200007777999", note="new account", now=now)
    with platform.session() as s:
        queue.approve(s, exception_id=returned.id, actor=s.get(Account, staff[1]), custodian=platform.custodian,
                      now=platform.clock.now())
    _sync(platform)
    sandbox.process()
    _sync(platform)
    assert _statuses(platform) == ["returned", "rejected", "settled", "settled"]
    assert _balance(platform, member_id) == 16000
    # the day's statement: every line matched, published; the same statement again: not twice
    sandbox.close_day()
    report = _sync(platform)
    assert len(report.statements) == 1
    with platform.factory() as s:
        from huzhu.custody.bank_models import StatementImport

        [statement] = s.scalars(select(StatementImport)).all()
        # the unknown 5.00 is the one line the platform cannot match (it waits in the queue)
        assert statement.unmatched_lines == 1 and statement.lines == statement.matched_lines + 1
    with platform.session() as s:
        s.execute(update(BankCursor).where(BankCursor.name == "statements").values(value=0))
    _sync(platform)
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(CustodyException)
                        .where(CustodyException.kind == "duplicate_statement")) == 1
    _books_agree(platform)


def test_bank_down_and_killed_then_back(world: tuple[Platform, Bank, Settings]) -> None:
    platform, bank, _settings = world
    member_id = _member(platform, "13700000002")
    _sync(platform)
    _pay_in(platform, member_id, "100.00", "PAYER-K")
    _sync(platform)
    bank.stop()
    _withdraw(platform, member_id, 1500, "6222020200001010000", "down-1")
    _withdraw(platform, member_id, 2500, "6222020200001010001", "down-2")
    report = _sync(platform)
    assert report.error and _statuses(platform) == ["queued", "queued"]
    bank.start()
    assert _sync(platform).sent == 2
    # kill -9 of the bank after it took the payments, before it processed them
    bank.kill9()
    bank.start()
    with platform.session() as s:  # the platform lost the answers: it sends again
        s.execute(update(OutgoingPayment).values(status="queued"))
    _sync(platform)
    platform.bank.sandbox.process()
    _sync(platform)
    assert _statuses(platform) == ["settled", "settled"]
    assert _balance(platform, member_id) == 6000
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(Transfer).where(Transfer.status == "posted",
                                                                          Transfer.pending_id.is_not(None))) == 2
    _books_agree(platform)


def test_platform_killed_mid_sync_is_consistent_after_restart(world: tuple[Platform, Bank, Settings]) -> None:
    platform, bank, settings = world
    member_id = _member(platform, "13700000003")
    _sync(platform)
    _pay_in(platform, member_id, "50.00", "PAYER-P1")
    _pay_in(platform, member_id, "20.00", "PAYER-P2")
    env = {**os.environ, "PYTHONPATH": SRC, "HUZHU_MODE": "sandbox", "HUZHU_DATABASE_URL": settings.database_url,
           "HUZHU_DATA_DIR": str(settings.data_dir), "HUZHU_PLANS_DIR": str(settings.plans_dir),
           "HUZHU_CUSTODY_BANK": bank.url, "HUZHU_CUSTODY_BANK_CERTS": str(settings.custody_bank_certs)}
    killed = subprocess.run([sys.executable, "-m", "huzhu.cli", "custodian", "sync"], capture_output=True,
                            env={**env, "HUZHU_FAILPOINTS": "custodian_sync.notification.before_commit=kill@2"},
                            timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert _balance(platform, member_id) == 5000  # the first deposit committed, the second not
    again = subprocess.run([sys.executable, "-m", "huzhu.cli", "custodian", "sync"], capture_output=True, env=env,
                           timeout=120)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert _balance(platform, member_id) == 7000
    _books_agree(platform)
