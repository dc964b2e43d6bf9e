"""Public numbers have no gaps: a step that rolls back gives its numbers back.

PostgreSQL burns a sequence value on every rolled-back insert, so numbers taken from row ids
(as they once were) skip after a failure; a skipped case or record number looks like something
hidden. Runs, cases, claims and public records now take their numbers from ``numbering``.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from huzhu.accounts import service as accounts
from huzhu.casework import service as casework
from huzhu.clock import FixedClock
from huzhu.jobs import run_jobs
from huzhu.notices.models import Case
from huzhu.numbering import next_number
from huzhu.platform import Platform
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import verify_chain
from integration.helpers import ACCIDENT, at, file_and_investigate, join_member, make_staff


class Boom(Exception):
    pass


def test_a_rolled_back_approval_gives_its_numbers_back(platform: Platform, clock: FixedClock) -> None:
    staff = make_staff(platform, clock)
    clock.set(at("2016-01-01"))
    people = [join_member(platform, clock, name=f"会员{n}") for n in range(3)]
    clock.set(at("2016-01-10"))
    claims = [file_and_investigate(platform, clock, staff, who, plan=ACCIDENT, benefit="accidental_death",
                                   incident=date(2016, 1, 5)) for who in people[:2]]
    with pytest.raises(Boom), platform.session() as s:  # approved, noticed, then the step fails
        casework.decide(s, plans=platform.plans, actor=accounts.account_or_raise(s, staff.reviewer_id),
                        claim_id=claims[0], approve=True, reason="符合规则", now=clock.now())
        raise Boom()
    for claim_id in (claims[1], claims[0]):
        with platform.session() as s:
            casework.decide(s, plans=platform.plans, actor=accounts.account_or_raise(s, staff.reviewer_id),
                            claim_id=claim_id, approve=True, reason="符合规则", now=clock.now())
    with platform.factory() as s:
        assert sorted(s.scalars(select(Case.case_no))) == ["HZ000001", "HZ000002"]
        indices = list(s.scalars(select(PublicRecord.leaf_index).order_by(PublicRecord.leaf_index)))
        noticed = list(s.scalars(select(PublicRecord.subject).where(PublicRecord.kind == "case_noticed")))
        assert verify_chain(s) == []  # the rolled-back records were never signed
    assert indices == list(range(len(indices))) and sorted(noticed) == ["HZ000001", "HZ000002"]

    clock.set(at("2016-01-20"))
    report = run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=clock.now())
    assert report.run_no == "R000001"


def test_numbers_of_each_kind_count_on_from_one(platform: Platform) -> None:
    with platform.session() as s:
        assert [next_number(s, "run") for _ in range(3)] == [1, 2, 3]
        assert next_number(s, "case") == 1
    with pytest.raises(Boom), platform.session() as s:
        assert next_number(s, "run") == 4
        raise Boom()
    with platform.session() as s:
        assert next_number(s, "run") == 4
