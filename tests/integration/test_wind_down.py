"""``huzhu wind-down``: no new joins, the published claims window, then every balance refunded through
the bank (pain.001 → booked → on the statement), the final statement published, members told at each
step; on both databases, with the sandbox bank in-process (its own database, the same XML messages)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from huzhu.banking.winddown import advance, notices_of
from huzhu.clock import FixedClock
from huzhu.custody.bank_models import CustodyException
from huzhu.errors import Conflict
from huzhu.ledger.invariants import check_ledger
from huzhu.members import service as members
from huzhu.members.models import Enrollment, EnrollmentStatus, Member
from huzhu.platform import Platform
from huzhu.transparency.models import PublicRecord

from .custody_world import close, link, new_member, pay_in, platform_with_local_bank, sync
from .helpers import ACCIDENT, available

pytestmark = pytest.mark.db


@pytest.fixture
def bank_platform(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Platform]:
    built = platform_with_local_bank(database_url, tmp_path, clock)
    yield built
    close(built)


def _join(platform: Platform, member_id: int) -> None:
    with platform.session() as s:
        member = s.get(Member, member_id)
        answers = {q.code: False for q in platform.plans[ACCIDENT].eligibility.health_questions}
        members.join_plan(s, platform.custodian, plans=platform.plans, member=member, plan_code=ACCIDENT,
                          now=platform.clock.now(), idempotency_key=f"join-{member_id}", health_answers=answers or None)


def _advance(platform: Platform):  # noqa: ANN202
    return advance(platform.factory, scope=ACCIDENT, claims_days=10, plans=platform.plans,
                   custodian=platform.custodian, connector=link(platform).connector, now=platform.clock.now())


def _records(platform: Platform, kind: str) -> list[dict]:
    with platform.factory() as s:
        return [json.loads(r.payload) for r in s.scalars(select(PublicRecord).where(PublicRecord.kind == kind))]


def test_wind_down_refunds_every_balance_through_the_bank(bank_platform: Platform, clock: FixedClock) -> None:
    people = [new_member(bank_platform, phone=f"1360000000{n}")[1] for n in range(3)]
    sync(bank_platform)
    for n, member_id in enumerate(people):
        pay_in(bank_platform, member_id, f"{50 + n}.00", f"WD-PAYER-{n}")
    sync(bank_platform)
    _join(bank_platform, people[0])
    _join(bank_platform, people[1])

    report = _advance(bank_platform)
    assert report.state == "claims_open" and "claims window" in report.waiting_for
    [announced] = _records(bank_platform, "wind_down_announced")
    assert announced["claims_days"] == 10
    with pytest.raises(Conflict, match="wound down"):
        _join(bank_platform, people[2])
    with bank_platform.factory() as s:
        assert [n.step for n in notices_of(s, people[0])] == ["announced"]
        assert notices_of(s, people[2]) == []

    clock.set(clock.now() + timedelta(days=10))
    report = _advance(bank_platform)
    assert (report.state, report.refunds, report.refunded_fen) == ("refunding", 2, 5000 + 5100)
    with bank_platform.factory() as s:
        assert available(s, people[0]) == 0 and available(s, people[2]) == 5200, "only the plan's members"
        assert {e.status for e in s.scalars(select(Enrollment))} == {EnrollmentStatus.LEFT}
    assert "not yet booked" in report.waiting_for
    # Run again before the bank did anything: nothing is instructed twice.
    assert _advance(bank_platform).refunds == 0

    link(bank_platform).sandbox.close_day()  # the bank's days went by (its open day catches up)
    link(bank_platform).sandbox.process()
    report = _advance(bank_platform)
    assert report.state == "refunding" and "statement" in report.waiting_for
    closed = link(bank_platform).sandbox.close_day()
    report = _advance(bank_platform)
    assert report.state == "closed", report.waiting_for
    [final] = _records(bank_platform, "wind_down_final_statement")
    assert final["statement_sha256"] == closed.sha256 and final["refunds"] == 2 and final["refunded"] == "101.00"
    assert final["closing_balance"] == closed.closing_balance == "52.00"
    with bank_platform.factory() as s:
        assert [n.step for n in notices_of(s, people[1])] == ["announced", "claims_closed", "refunds_instructed",
                                                              "closed"]
        assert [v.message for v in check_ledger(s)] == []
        assert s.scalars(select(CustodyException)).all() == []


def test_wind_down_refunds_go_many_to_a_pain001_each_with_its_own_status(bank_platform: Platform,
                                                                         clock: FixedClock) -> None:
    """Five refunds, two to a message: three pain.001 messages (2, 2, 1 transactions); a resend of the
    same rows (a crash after the bank took them, before the outbox was marked) is the same message,
    answered as a repeat and paid once; each refund is booked by its own status, and the wind-down closes."""
    from sqlalchemy import func, update

    from huzhu.banking.sync import send_outbox
    from huzhu.custody.bank_models import OutgoingPayment
    from huzhu.custody.iso20022 import parse_pain001
    from huzhu_bank.models import Payment, PaymentMessage

    people = [new_member(bank_platform, phone=f"1361000000{n}")[1] for n in range(5)]
    sync(bank_platform)
    for n, member_id in enumerate(people):
        pay_in(bank_platform, member_id, f"{20 + n}.00", f"WDB-PAYER-{n}")
    sync(bank_platform)
    for member_id in people:
        _join(bank_platform, member_id)
    bank = link(bank_platform)
    assert bank.sandbox is not None and bank.runtime is not None

    def _wind():  # noqa: ANN202
        return advance(bank_platform.factory, scope=ACCIDENT, claims_days=0, plans=bank_platform.plans,
                       custodian=bank_platform.custodian, connector=bank.connector, now=bank_platform.clock.now(),
                       batch=2)

    report = _wind()  # announced, the window closed at once (0 days), settled, refunds instructed and sent
    assert (report.state, report.refunds) == ("refunding", 5), report
    with bank.runtime.reader() as s:
        messages = s.scalars(select(PaymentMessage).order_by(PaymentMessage.id)).all()
        assert [len(parse_pain001(m.xml.encode()).payments) for m in messages] == [2, 2, 1]
        assert s.scalar(select(func.count()).select_from(Payment)) == 5
        first = messages[0]
    with bank_platform.factory() as s:
        assert {o.status for o in s.scalars(select(OutgoingPayment))} <= {"sent", "accepted"}
        e2e_first = [p.end_to_end_id for p in parse_pain001(first.xml.encode()).payments]
    # The outbox marks were lost (a crash after the bank answered): the same rows are sent again.
    with bank_platform.session() as s:
        s.execute(update(OutgoingPayment).where(OutgoingPayment.end_to_end_id.in_(e2e_first))
                  .values(status="queued"))
    assert send_outbox(bank_platform.factory, bank.connector, now=bank_platform.clock.now(), batch=2) == 2
    with bank.runtime.reader() as s:
        assert s.scalar(select(func.count()).select_from(PaymentMessage)) == 3, "a repeat, not a new message"
        assert s.scalar(select(func.count()).select_from(Payment)) == 5, "never paid twice"

    bank.sandbox.close_day()
    bank.sandbox.process()
    _wind()
    bank.sandbox.close_day()
    report = _wind()
    assert report.state == "closed", report.waiting_for
    with bank_platform.factory() as s:
        assert {o.status for o in s.scalars(select(OutgoingPayment))} == {"settled"}
        assert all(available(s, m) == 0 for m in people)
        assert [v.message for v in check_ledger(s)] == []
    [final] = _records(bank_platform, "wind_down_final_statement")
    assert final["refunds"] == 5 and final["refunded"] == "110.00"
