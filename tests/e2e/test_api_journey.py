"""The API offers what the pages now show: the plan's rules as data, what an objector needs of a
case in notice, the claimant's outcome with the payout's bank reference and the PDF receipt, and
the complaint channel — over a real server, on both databases. Bad input writes nothing."""

from __future__ import annotations

import io
import uuid
from datetime import date

from pypdf import PdfReader
from sqlalchemy import func, select

from e2e.helpers import MEMBER_PASSWORD, LiveServer, actor, create_staff
from huzhu.complaints.models import Complaint
from huzhu.identity import make_resident_id

ACCIDENT = "comprehensive-accident"
PDF = b"%PDF-1.4\n%%EOF\n"


def ok(response, status: int = 200):  # noqa: ANN001, ANN201
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def test_outcome_receipt_notice_facts_and_complaints_over_the_api(live: LiveServer) -> None:  # noqa: PLR0915
    for role, login in (("admin", "admin@x.example"), ("investigator", "inv@x.example"), ("reviewer", "rev@x.example"),
                        ("reviewer", "rev2@x.example"), ("auditor", "aud@x.example")):
        create_staff(live.platform, role, login, role)
    admin, inv, rev, rev2, aud = (actor(live, login) for login in (
        "admin@x.example", "inv@x.example", "rev@x.example", "rev2@x.example", "aud@x.example"))
    anonymous = live.client()

    plan = ok(anonymous.get(f"/plans/{ACCIDENT}"))
    assert {e["code"] for e in plan["exclusions"]} >= {"intentional", "war_and_nuclear"}
    assert plan["benefits"][0]["documents"] == ["death_certificate", "police", "medical"]
    illness = next(b for b in ok(anonymous.get("/plans/quark-no1"))["benefits"] if b["code"] == "critical_illness")
    assert "malignant_tumour" in {i["code"] for i in illness["covered_illnesses"]}

    ok(admin.post("/sandbox/clock", json={"to": "2016-01-01T10:00:00+08:00"}))
    clients = {}
    members = {}
    for phone, name, id_number in (("13700000021", "甲会员", make_resident_id("450321", date(1990, 6, 15), 12, "F")),
                                   ("13700000022", "乙会员", make_resident_id("110101", date(1975, 2, 2), 3, "M"))):
        ok(anonymous.post("/auth/register", json={"login": phone, "password": MEMBER_PASSWORD, "display_name": name}), 201)
        clients[phone] = actor(live, phone, MEMBER_PASSWORD)
        members[phone] = ok(clients[phone].post("/members", json={"name": name, "id_number": id_number}), 201)["id"]
        ok(clients[phone].post(f"/members/{members[phone]}/enrollments", json={"plan_code": ACCIDENT},
                               headers={"Idempotency-Key": str(uuid.uuid4())}), 201)
    claimant, objector = clients["13700000021"], clients["13700000022"]
    ok(admin.post("/sandbox/clock", json={"to": "2016-01-05T10:00:00+08:00"}))
    claim = ok(claimant.post("/claims", json={
        "member_id": members["13700000021"], "plan_code": ACCIDENT, "benefit_code": "accidental_death",
        "incident_date": "2016-01-04", "incident_place": "广西阳朔县", "beneficiary_name": "受益人甲",
        "beneficiary_account": "6222020000000000033"}), 201)
    ok(claimant.post(f"/claims/{claim['id']}/evidence", data={"kind": "death_certificate"},
                     files={"file": ("death.pdf", PDF, "application/pdf")}), 201)
    assert claimant.get(f"/claims/{claim['id']}/receipt.pdf").status_code == 404  # not paid yet
    ok(inv.post(f"/claims/{claim['id']}/investigation"))
    ok(inv.post(f"/claims/{claim['id']}/investigation/report", json={
        "company": "某调查公司", "summary": "意外身故属实。", "confirmed_incident_date": "2016-01-04"}), 201)
    case_no = ok(rev.post(f"/claims/{claim['id']}/decision", json={"approve": True}))["case_no"]

    notice = ok(anonymous.get(f"/cases/{case_no}/notice"))
    assert (notice["joined_on"], notice["in_force_on"], notice["incident_date"]) == ("2016-01-01", "2016-01-02",
                                                                                   "2016-01-04")
    assert notice["incident_place"] == "广西阳朔县" and notice["investigation_company"] == "某调查公司"
    assert notice["documents"] == [{"kind": "death_certificate", "count": 1}]
    expected = notice["expected_share"]
    assert expected["sharing_members"] == 1 and expected["share_per_member"] == "3.00"  # only 乙 shares
    assert "受益人" not in str(notice) and "6222" not in str(notice)

    objection = ok(objector.post(f"/cases/{case_no}/objections", json={
        "member_id": members["13700000022"], "reason": "请再核实一次事故经过。"}), 201)
    ok(admin.post("/sandbox/clock", json={"advance": "P8D"}))
    outcome = ok(claimant.get(f"/claims/{claim['id']}/outcome"))
    assert (outcome["case_no"], outcome["notice_state"], outcome["payout"]) == (case_no, "held", None)
    assert [o["status"] for o in outcome["objections"]] == ["open"]
    ok(rev2.post(f"/objections/{objection['id']}/resolution", json={"upheld": False, "note": "核实无误。"}))
    ok(admin.post("/runs", headers={"Idempotency-Key": str(uuid.uuid4())}))

    outcome = ok(claimant.get(f"/claims/{claim['id']}/outcome"))
    assert outcome["notice_state"] is None and outcome["run_no"] and outcome["paying_members"] == 1
    assert [(o["status"], o["resolution_note"]) for o in outcome["objections"]] == [("dismissed", "核实无误。")]
    payout = outcome["payout"]
    assert (payout["amount"], payout["account_last_digits"]) == ("3.00", "0033") and payout["bank_reference"]
    assert outcome["receipt_url"] == f"/api/v1/claims/{claim['id']}/receipt.pdf"
    receipt = claimant.get(f"/claims/{claim['id']}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(receipt.content)).pages[0].extract_text()
    for expected_text in ("互助金支付凭证", case_no, "3.00 元", payout["bank_reference"], "受益人甲", "尾号 0033"):
        assert expected_text in text, expected_text
    assert objector.get(f"/claims/{claim['id']}/outcome").status_code == 404  # another account's claim
    assert anonymous.get(f"/claims/{claim['id']}/receipt.pdf").status_code == 401

    # Complaints: bad input writes nothing; the member writes, the admin answers, the member closes.
    def complaints_count() -> int:
        with live.platform.read_factory() as s:
            return s.scalar(select(func.count()).select_from(Complaint)) or 0

    assert claimant.post("/complaints", json={"topic": "gossip", "subject": "标题", "body": "五个字以上"}).status_code == 422
    assert claimant.post("/complaints", json={"topic": "money", "subject": "标", "body": "五个字以上"}).status_code == 422
    assert admin.post("/complaints", json={"topic": "money", "subject": "标题", "body": "五个字以上"}).status_code == 403
    assert complaints_count() == 0
    complaint = ok(claimant.post("/complaints", json={"topic": "money", "subject": "提现到账时间",
                                                      "body": "提现后多久到账？"}), 201)
    assert complaint["complaint_no"].startswith("HZT") and complaint["status"] == "open"
    assert objector.get(f"/complaints/{complaint['id']}").status_code == 404  # not theirs
    assert ok(objector.get("/complaints")) == []
    assert claimant.post(f"/complaints/{complaint['id']}/answer", json={"answer": "自己答"}).status_code == 403
    assert aud.post(f"/complaints/{complaint['id']}/answer", json={"answer": "审计答"}).status_code == 403
    assert [c["id"] for c in ok(aud.get("/complaints"))] == [complaint["id"]]
    answered = ok(admin.post(f"/complaints/{complaint['id']}/answer", json={"answer": "一个工作日内到账。"}))
    assert (answered["status"], answered["answer"]) == ("answered", "一个工作日内到账。")
    assert admin.post(f"/complaints/{complaint['id']}/answer", json={"answer": "再答"}).status_code == 409
    closed = ok(claimant.post(f"/complaints/{complaint['id']}/close"))
    assert closed["status"] == "closed" and closed["closed_at"]
    assert claimant.post(f"/complaints/{complaint['id']}/close").status_code == 409
