"""Duty separation on money and personal data.

An admin could file a claim for any member naming any bank account (201), an investigator could
read the documents of claims not theirs, and no one kept track of staff reading personal data.
Now: claims are filed by the member's own account only; a change of payee is proposed by one staff
member and decided by another (four eyes), recorded, and is what the payout then pays; an
investigator reads the documents of their own claims only; every staff read of evidence or
personal data leaves a row that an auditor lists (API and page).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from e2e.helpers import LiveServer, actor, create_staff, web_login
from e2e.world import ACCIDENT, PDF, PRIVATE, build_world
from huzhu.audit.models import PersonalDataRead
from huzhu.claims.models import Claim, PayeeChange
from huzhu.custody.models import CustodyInstruction
from huzhu.platform import Platform

pytestmark = pytest.mark.e2e

NEW_ACCOUNT = "6222020000000000088"


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


def count(platform: Platform, model: type) -> int:
    with platform.factory() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_staff_cannot_file_claims_and_payees_change_under_four_eyes(live: LiveServer) -> None:
    w = build_world(live)
    admin, reviewer, member = w.clients["admin"], w.clients["reviewer"], w.clients["member"]
    claims_before = count(live.platform, Claim)
    refused(admin.post("/claims", json={
        "member_id": w.member_a, "plan_code": ACCIDENT, "benefit_code": "accidental_death",
        "incident_date": "2016-01-04", "beneficiary_name": "冒领人", "beneficiary_account": "6222020000000000099"}),
        403, "claims.members_file")
    assert count(live.platform, Claim) == claims_before

    claim_c = next(c for c in ok(admin.get("/claims"))["items"] if c["case_no"] == w.case_c)
    change = {"beneficiary_name": "乙会员之子", "beneficiary_account": NEW_ACCOUNT, "reason": "遗产继承公证书确认其子为继承人"}
    refused(member.post(f"/claims/{claim_c['id']}/payee-changes", json=change), 403, "claims.payee.role")
    refused(w.clients["investigator"].post(f"/claims/{claim_c['id']}/payee-changes", json=change), 403,
            "claims.payee.role")
    proposed = ok(reviewer.post(f"/claims/{claim_c['id']}/payee-changes", json=change), 201)
    assert proposed["status"] == "proposed" and proposed["beneficiary_account_masked"].endswith("0088")
    # Proposing changes nothing yet; the proposer cannot approve it.
    assert ok(admin.get(f"/claims/{claim_c['id']}"))["beneficiary_account_masked"] == \
        claim_c["beneficiary_account_masked"]
    refused(reviewer.post(f"/payee-changes/{proposed['id']}/decision", json={"approve": True}), 403,
            "claims.payee.four_eyes")
    decided = ok(admin.post(f"/payee-changes/{proposed['id']}/decision", json={"approve": True, "note": "核实无误"}))
    assert decided["status"] == "approved" and decided["decided_by_account_id"] != decided["proposed_by_account_id"]
    assert decided["previous_account_masked"].endswith(PRIVATE["banks"][1][-4:])
    refused(reviewer.post(f"/payee-changes/{proposed['id']}/decision", json={"approve": False}), 409,
            "claims.payee.not_open")
    claim = ok(admin.get(f"/claims/{claim_c['id']}"))
    assert claim["beneficiary_name"] == "乙会员之子" and claim["beneficiary_account_masked"].endswith("0088")
    assert any("payee changed" in event["note"] for event in claim["timeline"])
    history = ok(w.clients["auditor"].get(f"/claims/{claim_c['id']}/payee-changes"))["items"]
    assert [h["status"] for h in history] == ["approved"]

    # The payout pays the approved payee; once it is with the bank, the payee is fixed.
    ok(reviewer.post(f"/objections/{w.objection}/resolution", json={"upheld": False, "note": "经核实无误。"}))
    ok(admin.post("/sandbox/clock", json={"advance": "P8D"}))
    ok(admin.post("/runs", headers={"Idempotency-Key": str(uuid.uuid4())}))
    with live.platform.factory() as s:
        paid_to = s.scalars(select(CustodyInstruction.creditor_account).where(CustodyInstruction.kind == "payout")).all()
    assert paid_to == [NEW_ACCOUNT]
    refused(reviewer.post(f"/claims/{claim_c['id']}/payee-changes", json={**change, "beneficiary_account":
                                                                          "6222020000000000011"}),
            409, "claims.payee.payout_started")


def test_the_database_itself_refuses_a_change_decided_by_its_proposer(platform: Platform) -> None:
    from e2e.helpers import create_staff as staff

    reviewer = staff(platform, "reviewer", "r@x.example", "审")
    with platform.session() as s, pytest.raises(IntegrityError):
        s.execute(insert(PayeeChange).values(
            claim_id=1, status="approved", beneficiary_name="x", beneficiary_account=NEW_ACCOUNT, reason="reason",
            proposed_by_account_id=reviewer, proposed_at=datetime(2016, 1, 1, tzinfo=UTC),
            decided_by_account_id=reviewer, decided_at=datetime(2016, 1, 1, tzinfo=UTC)))
        s.flush()


def test_investigators_read_the_documents_of_their_own_claims_only(live: LiveServer) -> None:
    w = build_world(live)
    create_staff(live.platform, "investigator", "inv2@x.example", "二号调查员")
    mine, other = w.clients["investigator"], actor(live, "inv2@x.example")
    content = f"/claims/{w.claim_a}/evidence/{w.evidence_a}/content"
    for client in (mine, other):  # claim_a waits in the queue: no investigator has it yet
        refused(client.get(content), 403, "claims.evidence.not_assigned_read")
        refused(client.get(f"/claims/{w.claim_a}/evidence"), 403, "claims.evidence.not_assigned_read")
        assert client.get(f"/claims/{w.claim_a}").status_code == 200  # the queue's claim itself: yes
    ok(mine.post(f"/claims/{w.claim_a}/investigation"))
    assert mine.get(content).content == PDF
    assert len(ok(mine.get(f"/claims/{w.claim_a}/evidence"))["items"]) == 1
    refused(other.get(content), 403, "claims.not_assigned_read")  # taken by another: the claim is hidden too
    refused(other.get(f"/claims/{w.claim_a}"), 403, "claims.not_assigned_read")
    assert w.claim_a not in [c["id"] for c in ok(other.get("/claims"))["items"]]
    # The same on the staff pages.
    page = web_login(live, "inv2@x.example")
    assert page.get(f"/staff/evidence/{w.evidence_a}").status_code == 403
    assert page.get(f"/staff/claims/{w.claim_a}/report").status_code == 403
    assert web_login(live, "inv@x.example").get(f"/staff/evidence/{w.evidence_a}").status_code == 200


def test_every_staff_read_of_personal_data_is_recorded_for_the_auditor(live: LiveServer) -> None:
    w = build_world(live)
    auditor, admin, reviewer = w.clients["auditor"], w.clients["admin"], w.clients["reviewer"]
    before = count(live.platform, PersonalDataRead)
    ok(w.clients["member"].get(f"/claims/{w.claim_a}"))  # a member reading their own claim: not recorded
    ok(w.clients["member"].get(f"/members/{w.member_a}"))
    assert count(live.platform, PersonalDataRead) == before

    admin_id = ok(admin.get("/me"))["id"]
    ok(admin.get(f"/claims/{w.claim_a}"))
    admin.get(f"/claims/{w.claim_a}/evidence/{w.evidence_a}/content").raise_for_status()
    ok(admin.get(f"/members/{w.member_b}"))
    ok(admin.get(f"/members/{w.member_b}/ledger"))
    ok(reviewer.get("/objections"))
    web_login(live, "rev@x.example").get(f"/staff/claims/{w.claim_a}/review").raise_for_status()

    reads = ok(auditor.get("/audit/reads", params={"limit": 200}))["items"]
    by_admin = ok(auditor.get("/audit/reads", params={"account_id": admin_id}))["items"]
    seen = {(r["subject"], tuple(r["subject_ids"]), r["channel"]) for r in by_admin}
    assert {("claim", (w.claim_a,), "api"), ("evidence", (w.evidence_a,), "api"), ("member", (w.member_b,), "api"),
            ("member_ledger", (w.member_b,), "api")} <= seen
    assert all(r["role"] == "admin" and r["path"].startswith("/api/v1/") for r in by_admin)
    assert any(r["subject"] == "objection" and r["role"] == "reviewer" for r in reads)
    assert any(r["channel"] == "web" and r["path"] == f"/staff/claims/{w.claim_a}/review" for r in reads)
    only_evidence = ok(auditor.get("/audit/reads", params={"subject": "evidence"}))["items"]
    assert only_evidence and all(r["subject"] == "evidence" for r in only_evidence)
    for role in ("admin", "reviewer", "investigator", "member"):
        assert w.clients[role].get("/audit/reads").status_code == 403

    page = web_login(live, "aud@x.example")
    desk = page.get("/staff")  # the auditor's desk links to the reads of personal data
    assert desk.status_code == 200 and 'href="/staff/audit"' in desk.text
    html = page.get("/staff/audit").text
    assert f"/api/v1/claims/{w.claim_a}/evidence/{w.evidence_a}/content" in html
    assert f"/staff/claims/{w.claim_a}/review" in html
