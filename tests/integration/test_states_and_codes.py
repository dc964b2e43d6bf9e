"""States are enum members from the database on, stored as the same text as always; refusals
reach API clients with their stable code and values."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import CheckConstraint, select, text
from sqlalchemy.exc import StatementError

from huzhu.accounts import service as accounts
from huzhu.accounts.models import Account, Role
from huzhu.app import create_app
from huzhu.clock import FixedClock
from huzhu.models import Base
from huzhu.platform import Platform

MIGRATION = Path(__file__).resolve().parents[2] / "src" / "huzhu" / "migrations" / "versions" / "0001_initial_schema.py"


def test_check_constraints_are_the_migration_s_text() -> None:
    """The enums build the same constraint text the first migration wrote."""
    written = {name: sql for sql, name in re.findall(r"sa\.CheckConstraint\(['\"](.*?)['\"], name=op\.f\('(ck_\w+)'\)\)",
                                                     MIGRATION.read_text(encoding="utf-8"))}
    built = {str(c.name): str(c.sqltext) for table in Base.metadata.tables.values()
             for c in table.constraints if isinstance(c, CheckConstraint)}
    for name in ("ck_accounts_role_known", "ck_members_relationship_known", "ck_enrollments_status_known",
                 "ck_claims_status_known", "ck_cases_status_known", "ck_objections_status_known"):
        assert built[name] == written[name], name


def test_a_state_is_stored_as_its_text_and_read_back_as_a_member(platform: Platform, clock: FixedClock) -> None:
    with platform.session() as s:
        account_id = accounts.register_account(s, login="13900000101", password="pass-word-1", display_name="甲",
                                               now=clock.now()).id
    with platform.factory() as s:
        assert s.scalar(text("SELECT role FROM accounts WHERE id = :id"), {"id": account_id}) == "member"
        account = s.get(Account, account_id)
        assert account is not None and account.role is Role.MEMBER
        assert s.scalar(select(Account.id).where(Account.role == Role.MEMBER)) == account_id
    with platform.factory() as s, pytest.raises(StatementError, match="king"):
        s.execute(select(Account.id).where(Account.role == "king"))  # refused before the database sees it


def _get(platform: Platform, path: str) -> httpx.Response:
    app = create_app(platform)
    box: list[httpx.Response] = []

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            box.append(await client.get(path))

    thread = threading.Thread(target=lambda: asyncio.run(go()))  # independent of any running loop
    thread.start()
    thread.join()
    return box[0]


def test_a_refusal_carries_its_code_and_values(platform: Platform) -> None:
    response = _get(platform, "/api/v1/cases/HZ999999")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/not-found" and problem["title"] == "Not found" and problem["status"] == 404
    assert problem["detail"] == "case HZ999999 does not exist"
    assert problem["code"] == "notices.no_such_case" and problem["params"] == {"case": "HZ999999"}
    response = _get(platform, "/api/v1/plans/no-such-plan")
    assert response.json()["code"] == "plans.unknown_plan"
    assert response.json()["params"]["plans"] == ["comprehensive-accident", "driving-risk", "quark-no1"]
