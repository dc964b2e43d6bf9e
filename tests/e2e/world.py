"""A small world for the authorisation and bad-input tests, built through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import httpx

from e2e.helpers import MEMBER_PASSWORD, LiveServer, actor, create_staff
from huzhu.identity import make_resident_id

ACCIDENT = "comprehensive-accident"
PDF = b"%PDF-1.4\n%%EOF\n"
PRIVATE = {
    "names": ["甲会员", "乙会员", "受益人甲", "受益人乙"],
    "phones": ["13700000001", "13700000002"],
    "banks": ["6222020000000000033", "6222020000000000044"],
    "documents": ["secret-medical-report"],
}


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


@dataclass
class World:
    clients: dict[str, httpx.Client]
    member_a: int
    member_b: int
    claim_a: int
    evidence_a: int
    case_c: str
    objection: int
    enrollment_a: int
    id_numbers: list[str]


def build_world(live: LiveServer) -> World:
    p = live.platform
    for role, login in (("admin", "admin@x.example"), ("investigator", "inv@x.example"),
                        ("reviewer", "rev@x.example"), ("reviewer", "rev2@x.example"), ("auditor", "aud@x.example")):
        create_staff(p, role, login, role)
    clients = {
        "anonymous": live.client(),
        "admin": actor(live, "admin@x.example"), "investigator": actor(live, "inv@x.example"),
        "reviewer": actor(live, "rev@x.example"), "auditor": actor(live, "aud@x.example"),
    }
    reviewer2 = actor(live, "rev2@x.example")
    ok(clients["admin"].post("/sandbox/clock", json={"to": "2016-01-01T10:00:00+08:00"}))
    ids = [make_resident_id("450321", date(1990, 6, 15), 12, "F"), make_resident_id("110101", date(1975, 2, 2), 3, "M")]
    members = []
    for role, phone, name, id_number in (("member", PRIVATE["phones"][0], "甲会员", ids[0]),
                                         ("other", PRIVATE["phones"][1], "乙会员", ids[1])):
        ok(clients["anonymous"].post("/auth/register", json={"login": phone, "password": MEMBER_PASSWORD,
                                                             "display_name": name}), 201)
        clients[role] = actor(live, phone, MEMBER_PASSWORD)
        member = ok(clients[role].post("/members", json={"name": name, "id_number": id_number}), 201)
        ok(clients[role].post(f"/members/{member['id']}/enrollments", json={"plan_code": ACCIDENT},
                              headers={"Idempotency-Key": str(uuid.uuid4())}), 201)
        members.append(member["id"])
    ok(clients["admin"].post("/sandbox/clock", json={"to": "2016-01-05T10:00:00+08:00"}))
    claim_a = ok(clients["member"].post("/claims", json={
        "member_id": members[0], "plan_code": ACCIDENT, "benefit_code": "accidental_disability",
        "incident_date": "2016-01-03", "beneficiary_name": "受益人甲", "beneficiary_account": PRIVATE["banks"][0]}), 201)
    evidence = ok(clients["member"].post(f"/claims/{claim_a['id']}/evidence", data={"kind": "medical"},
                                         files={"file": ("secret-medical-report.pdf", PDF, "application/pdf")}), 201)
    claim_c = ok(clients["other"].post("/claims", json={
        "member_id": members[1], "plan_code": ACCIDENT, "benefit_code": "accidental_death",
        "incident_date": "2016-01-04", "beneficiary_name": "受益人乙", "beneficiary_account": PRIVATE["banks"][1]}), 201)
    ok(clients["investigator"].post(f"/claims/{claim_c['id']}/investigation"))
    ok(clients["investigator"].post(f"/claims/{claim_c['id']}/investigation/report", json={
        "company": "调查公司", "summary": "意外身故属实。", "confirmed_incident_date": "2016-01-04"}), 201)
    case_c = ok(reviewer2.post(f"/claims/{claim_c['id']}/decision", json={"approve": True}))["case_no"]
    objection = ok(clients["member"].post(f"/cases/{case_c}/objections", json={
        "member_id": members[0], "reason": "请再核实一次事故经过。"}), 201)
    enrollment = ok(clients["member"].post(f"/members/{members[0]}/enrollments", json={
        "plan_code": "quark-no1", "health_answers": {q["code"]: False for q in ok(clients["anonymous"].get(
            "/plans/quark-no1"))["health_questions"]}}, headers={"Idempotency-Key": str(uuid.uuid4())}), 201)
    return World(clients=clients, member_a=members[0], member_b=members[1], claim_a=claim_a["id"],
                 evidence_a=evidence["id"], case_c=case_c, objection=objection["id"], enrollment_a=enrollment["id"],
                 id_numbers=ids)
