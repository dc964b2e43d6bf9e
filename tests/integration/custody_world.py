"""A platform wired to the sandbox bank in-process (its own database), for the custody integration tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from huzhu.accounts import service as accounts
from huzhu.app import build_platform
from huzhu.banking import sync as banking
from huzhu.banking.link import BankLink
from huzhu.clock import FixedClock
from huzhu.config import Settings
from huzhu.custody.bank_models import MemberReference
from huzhu.members import service as members
from huzhu.platform import Platform

from .helpers import PASSWORD, unique_id_number

REPO = Path(__file__).resolve().parents[2]


def platform_with_local_bank(database_url: str, tmp_path: Path, clock: FixedClock) -> Platform:
    settings = Settings(mode="sandbox", database_url=database_url, data_dir=tmp_path / "data",
                        plans_dir=REPO / "plans", custody_bank="local",
                        custody_bank_database_url=f"sqlite:///{(tmp_path / 'bank.sqlite').as_posix()}")
    return build_platform(settings, clock=clock)


def close(platform: Platform) -> None:
    if platform.bank is not None:
        platform.bank.close()
    platform.engine.dispose()


def link(platform: Platform) -> BankLink:
    assert platform.bank is not None
    return platform.bank


def sync(platform: Platform) -> banking.SyncReport:
    return banking.sync(platform.factory, link(platform).connector, now=platform.clock.now(), plans=platform.plans)


def new_member(platform: Platform, *, name: str = "存款会员", phone: str) -> tuple[int, int]:
    """(account id, member id) of a new member, not yet in any plan."""
    from datetime import date

    with platform.session() as s:
        now = platform.clock.now()
        account = accounts.register_account(s, login=phone, password=PASSWORD, display_name=name, now=now)
        member = members.add_member(s, account_id=account.id, name=name, now=now,
                                    id_number=unique_id_number(date(1985, 5, 5)))
        return account.id, member.id


def virtual_account(platform: Platform, member_id: int) -> str:
    with platform.factory() as s:
        ref = s.scalar(select(MemberReference).where(MemberReference.member_id == member_id))
        assert ref is not None and ref.virtual_account
        return ref.virtual_account


def pay_in(platform: Platform, member_id: int, amount: str, e2e: str, *, quote: str | None = None) -> dict:
    """What the member's bank does: a transfer to the pool account quoting the member's virtual account."""
    sandbox = link(platform).sandbox
    assert sandbox is not None
    return sandbox.incoming_transfer(amount=amount, reference=quote or virtual_account(platform, member_id),
                                     payer_name="付款人", payer_account="6222020200001234567", end_to_end_id=e2e)
