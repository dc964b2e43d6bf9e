"""The custody endpoints over HTTP (both databases, the sandbox bank in-process): a member's bank
reference; the exceptions queue read by staff, proposed by one, refused to that same one with a
problem+json 403, approved by another and carried out."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn

from e2e.helpers import PASSWORD, LiveServer, actor, create_staff, page_csrf, web_login
from huzhu.accounts import service as accounts
from huzhu.app import build_platform, create_app
from huzhu.banking import sync as banking
from huzhu.config import Settings
from huzhu.identity import make_resident_id
from huzhu.members import service as members

pytestmark = [pytest.mark.e2e, pytest.mark.db]
REPO = Path(__file__).resolve().parents[2]
# HUZHU_TEST_PORT_BASE: a run that must keep to given ports (this module takes base .. base+4).
PORTS = itertools.count(int(os.environ.get("HUZHU_TEST_PORT_BASE", "18380")))


@pytest.fixture
def bank_live(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(mode="sandbox", database_url=database_url, data_dir=tmp_path / "data", plans_dir=REPO / "plans",
                        custody_bank="local",
                        custody_bank_database_url=f"sqlite:///{(tmp_path / 'bank.sqlite').as_posix()}")
    platform = build_platform(settings)
    port = next(PORTS)
    server = uvicorn.Server(uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", platform=platform, server=server, thread=thread)
    server.should_exit = True
    thread.join(timeout=10)
    platform.bank.close()
    platform.engine.dispose()


def test_bank_reference_and_the_exceptions_queue(bank_live: LiveServer) -> None:
    platform = bank_live.platform
    with platform.session() as s:
        owner = accounts.register_account(s, login="13500000001", password=PASSWORD, display_name="会员",
                                          now=platform.clock.now())
        member_id = members.add_member(s, account_id=owner.id, name="李雷", now=platform.clock.now(),
                                       id_number=make_resident_id("110101", date(1980, 2, 2), 5, "M")).id
    for role in ("admin", "reviewer", "auditor"):
        create_staff(platform, role, f"{role}@huzhu.test", role)
    banking.sync(platform.factory, platform.bank.connector, now=platform.clock.now())
    member, admin, reviewer, auditor = (actor(bank_live, login) for login in (
        "13500000001", "admin@huzhu.test", "reviewer@huzhu.test", "auditor@huzhu.test"))

    ref = member.get(f"/members/{member_id}/bank-reference")
    assert ref.status_code == 200, ref.text
    assert ref.json()["reference"] == f"HZM{member_id}" and ref.json()["virtual_account"].startswith("HUZHU-CUSTODY-0001-")

    platform.bank.sandbox.incoming_transfer(amount="3.50", reference="WRONG-REF", payer_name="付款人",
                                            payer_account="6222020200001234567", end_to_end_id="API-UNKNOWN")
    banking.sync(platform.factory, platform.bank.connector, now=platform.clock.now())
    assert member.get("/custody/exceptions").status_code == 403
    listed = auditor.get("/custody/exceptions")
    assert listed.status_code == 200
    [item] = listed.json()
    assert (item["kind"], item["amount"], item["status"]) == ("unknown_reference", "3.50", "open")
    assert item["allowed_resolutions"] == ["book_to_member", "acknowledge"]

    assert auditor.post(f"/custody/exceptions/{item['id']}/proposal",
                        json={"resolution": "acknowledge", "note": "x"}).status_code == 403
    wrong = admin.post(f"/custody/exceptions/{item['id']}/proposal", json={"resolution": "reinstruct", "note": "x"})
    assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("application/problem+json")
    assert (wrong.json()["code"], wrong.json()["params"]) == (
        "banking.resolution_not_allowed", {"kind": "unknown_reference", "choices": ["book_to_member", "acknowledge"]})
    assert wrong.json()["detail"] == "a unknown_reference exception is resolved by one of book_to_member or acknowledge"
    proposed = admin.post(f"/custody/exceptions/{item['id']}/proposal",
                          json={"resolution": "book_to_member", "target": str(member_id), "note": "called us"})
    assert proposed.status_code == 200 and proposed.json()["status"] == "proposed"
    own = admin.post(f"/custody/exceptions/{item['id']}/approval")
    assert own.status_code == 403 and own.headers["content-type"].startswith("application/problem+json")
    assert own.json()["code"] == "banking.four_eyes" and own.json()["type"] == "/problems/forbidden"
    page = web_login(bank_live, "admin@huzhu.test")  # the pages say it in the reader's language: Chinese by default
    form = {"csrf_token": page_csrf(page, "/staff/custody")}
    refused = page.post(f"/staff/custody/{item['id']}/approve", data=form)
    assert refused.status_code == 403 and "双人复核：处理方案须由提出人以外的工作人员批准" in refused.text
    refused = page.post(f"/staff/custody/{item['id']}/approve", data=form, headers={"Accept-Language": "en"})
    assert "four eyes: the staff member who proposed a resolution cannot approve it" in refused.text
    page.close()
    approved = reviewer.post(f"/custody/exceptions/{item['id']}/approval")
    assert approved.status_code == 200 and approved.json()["status"] == "resolved"
    again = reviewer.post(f"/custody/exceptions/{item['id']}/approval")
    assert again.status_code == 409 and again.json()["code"] == "banking.nothing_to_approve"
    with platform.factory() as s:
        from huzhu.members.models import Member

        assert members.balance_of(s, s.get(Member, member_id)).available == 350
    for client in (member, admin, reviewer, auditor):
        client.close()


def test_reading_the_bank_reference_opens_nothing_and_the_post_opens_it_once(bank_live: LiveServer) -> None:
    platform = bank_live.platform
    with platform.session() as s:
        owner = accounts.register_account(s, login="13500000002", password=PASSWORD, display_name="会员",
                                          now=platform.clock.now())
        member_id = members.add_member(s, account_id=owner.id, name="韩梅梅", now=platform.clock.now(),
                                       id_number=make_resident_id("110101", date(1981, 3, 3), 6, "F")).id
    member = actor(bank_live, "13500000002")
    for _ in range(2):  # a GET is safe: it opens nothing, however often
        pending = member.get(f"/members/{member_id}/bank-reference")
        assert pending.status_code == 409 and pending.json()["code"] == "members.bank_reference_pending"
    with platform.read_factory() as s:
        assert banking.reference_of(s, member_id) is None

    platform.bank.connector.down = True
    down = member.post(f"/members/{member_id}/bank-reference")
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
    assert down.json()["code"] == "custody.bank_unreachable"
    assert member.get(f"/members/{member_id}/bank-reference").status_code == 409  # nothing kept
    platform.bank.connector.down = False

    opened = member.post(f"/members/{member_id}/bank-reference")
    assert opened.status_code == 200, opened.text
    number = opened.json()["virtual_account"]
    assert number.startswith("HUZHU-CUSTODY-0001-") and opened.json()["reference"] == f"HZM{member_id}"
    again = member.post(f"/members/{member_id}/bank-reference")
    assert again.status_code == 200 and again.json()["virtual_account"] == number
    assert member.get(f"/members/{member_id}/bank-reference").json()["virtual_account"] == number
    member.close()
