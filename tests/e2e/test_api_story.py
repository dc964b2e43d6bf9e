"""The source article over real HTTP: a client app drives the whole story through the API only.

彭静 (25, Guangxi) joins 2015-03-02, dies after a traffic accident → accidental death 100,000.00.
周四喜 (57) joins 2016-02-06 (in force 02-07), injured 02-09 → disability grade 2, 90,000.00.
Third-party investigation, rule-checked review, 7-day notice, an objection dismissed by a second
reviewer, the sandbox clock advanced past the notice, one run, payout through the custodian.
"""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest

from e2e.helpers import MEMBER_PASSWORD, LiveServer, actor, create_staff
from huzhu.identity import make_resident_id
from huzhu.transparency.merkle import leaf_hash, verify_inclusion

pytestmark = pytest.mark.e2e

ACCIDENT, QUARK = "comprehensive-accident", "quark-no1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def set_clock(admin: httpx.Client, moment: str) -> None:
    assert ok(admin.post("/sandbox/clock", json={"to": moment}))["now"]


def new_member(live: LiveServer, phone: str, name: str, id_number: str, plans: list[str],
               health: dict[str, bool] | None = None) -> tuple[httpx.Client, int]:
    ok(live.client().post("/auth/register", json={"login": phone, "password": MEMBER_PASSWORD,
                                                   "display_name": name}), 201)
    client = actor(live, phone, MEMBER_PASSWORD)
    member = ok(client.post("/members", json={"name": name, "id_number": id_number}), 201)
    for plan in plans:
        body = {"plan_code": plan, "health_answers": health} if plan == QUARK else {"plan_code": plan}
        ok(client.post(f"/members/{member['id']}/enrollments", json=body,
                       headers={"Idempotency-Key": str(uuid.uuid4())}), 201)
    return client, member["id"]


def test_article_story_over_http(live: LiveServer) -> None:
    p = live.platform
    create_staff(p, "admin", "admin@huzhu.example", "管理员")
    create_staff(p, "investigator", "investigator@huzhu.example", "第三方调查员")
    create_staff(p, "reviewer", "reviewer@huzhu.example", "审核员甲")
    create_staff(p, "reviewer", "reviewer2@huzhu.example", "审核员乙")
    create_staff(p, "auditor", "auditor@huzhu.example", "审计")
    admin = actor(live, "admin@huzhu.example")
    investigator = actor(live, "investigator@huzhu.example")
    reviewer = actor(live, "reviewer@huzhu.example")
    reviewer2 = actor(live, "reviewer2@huzhu.example")
    auditor = actor(live, "auditor@huzhu.example")
    public = live.client()

    # Plans are public; quark-no1 asks health questions.
    plans = {pl["code"]: pl for pl in ok(public.get("/plans"))["items"]}
    assert plans[ACCIDENT]["deposit"] == "9.00" and plans[ACCIDENT]["cap_per_case"] == "3.00"
    health = {q["code"]: False for q in plans[QUARK]["health_questions"]}

    # A small existing pool that will share the cases (joined in 2014).
    set_clock(admin, "2014-06-01T10:00:00+08:00")
    pool = []
    for i in range(6):
        client, mid = new_member(live, f"1390000000{i}", f"会员{i}",
                                 make_resident_id("110101", date(1980, 1, 1 + i), i, "M"), [ACCIDENT])
        pool.append((client, mid))

    # 2015-03-02: 彭静 joins both plans; the deposit is paid with an Idempotency-Key, and a retry replays.
    set_clock(admin, "2015-03-02T10:00:00+08:00")
    ok(public.post("/auth/register", json={
        "login": "13800000001", "password": MEMBER_PASSWORD, "display_name": "彭静家属"}), 201)
    peng_family = actor(live, "13800000001", MEMBER_PASSWORD)
    peng = ok(peng_family.post("/members", json={
        "name": "彭静", "id_number": make_resident_id("450321", date(1990, 6, 15), 12, "F")}), 201)
    key = str(uuid.uuid4())
    first = ok(peng_family.post(f"/members/{peng['id']}/enrollments", json={"plan_code": ACCIDENT},
                                headers={"Idempotency-Key": key}), 201)
    replay = peng_family.post(f"/members/{peng['id']}/enrollments", json={"plan_code": ACCIDENT},
                              headers={"Idempotency-Key": key})
    assert replay.status_code == 201 and replay.json() == first
    assert replay.headers.get("idempotent-replayed") == "true"
    reused = peng_family.post(f"/members/{peng['id']}/enrollments", json={"plan_code": QUARK},
                              headers={"Idempotency-Key": key})
    assert reused.status_code == 409 and reused.headers["content-type"].startswith("application/problem+json")
    ok(peng_family.post(f"/members/{peng['id']}/enrollments", json={"plan_code": QUARK, "health_answers": health},
                        headers={"Idempotency-Key": str(uuid.uuid4())}), 201)
    assert ok(peng_family.get(f"/members/{peng['id']}"))["balance"] == "18.00"

    # 2016-02-06: 周四喜 joins the accident plan; cover in force from 02-07.
    set_clock(admin, "2016-02-06T10:00:00+08:00")
    zhou_client, zhou_id = new_member(live, "13800000002", "周四喜",
                                      make_resident_id("450821", date(1958, 8, 20), 31, "M"), [ACCIDENT])
    enrollment = ok(zhou_client.get(f"/members/{zhou_id}/enrollments"))["items"][0]
    assert enrollment["joined_on"] == "2016-02-06"
    assert {b["in_force_from"] for b in enrollment["benefits"]} == {"2016-02-07"}

    # 2016-02-10: both claims filed; evidence uploaded and hashed.
    set_clock(admin, "2016-02-10T10:00:00+08:00")
    peng_claim = ok(peng_family.post("/claims", json={
        "member_id": peng["id"], "plan_code": ACCIDENT, "benefit_code": "accidental_death",
        "incident_date": "2016-01-27", "incident_place": "广西阳朔县",
        "description": "2016-01-27 交通事故，抢救无效，于 2016-02-09 身故。",
        "beneficiary_name": "彭静家属", "beneficiary_account": "6222020000000000011"}), 201)
    zhou_claim = ok(zhou_client.post("/claims", json={
        "member_id": zhou_id, "plan_code": ACCIDENT, "benefit_code": "accidental_disability",
        "incident_date": "2016-02-09", "incident_place": "甘蔗窖旁", "description": "碰撞树桩受伤昏迷。",
        "beneficiary_name": "周四喜", "beneficiary_account": "6222020000000000022"}), 201)
    evidence = ok(peng_family.post(f"/claims/{peng_claim['id']}/evidence", data={"kind": "death_certificate"},
                                   files={"file": ("death.pdf", PDF, "application/pdf")}), 201)
    assert evidence["size_bytes"] == len(PDF) and len(evidence["sha256"]) == 64
    # The other family cannot see 彭静's claim at all.
    assert zhou_client.get(f"/claims/{peng_claim['id']}").status_code == 404

    # 2016-02-12..15: third-party investigation.
    set_clock(admin, "2016-02-12T10:00:00+08:00")
    for claim in (peng_claim, zhou_claim):
        assert ok(investigator.post(f"/claims/{claim['id']}/investigation"))["status"] == "investigating"
    downloaded = investigator.get(f"/claims/{peng_claim['id']}/evidence/{evidence['id']}/content")
    assert downloaded.status_code == 200 and downloaded.content == PDF
    set_clock(admin, "2016-02-15T10:00:00+08:00")
    ok(investigator.post(f"/claims/{peng_claim['id']}/investigation/report", json={
        "company": "某第三方调查公司", "summary": "交通事故属实，属意外身故。",
        "confirmed_incident_date": "2016-01-27"}), 201)
    ok(investigator.post(f"/claims/{zhou_claim['id']}/investigation/report", json={
        "company": "某第三方调查公司", "summary": "作业时碰撞树桩受伤属实，经鉴定为二级伤残。",
        "confirmed_incident_date": "2016-02-09", "facts": {"disability_grades": [2]}}), 201)

    # 2016-02-16: review evaluates every rule; the amounts come from the rules.
    set_clock(admin, "2016-02-16T10:00:00+08:00")
    case_nos = {}
    for claim, amount in ((peng_claim, "100000.00"), (zhou_claim, "90000.00")):
        evaluation = ok(reviewer.get(f"/claims/{claim['id']}/evaluation"))
        assert evaluation["passed"] and evaluation["amount"] == amount
        assert all(c["passed"] for c in evaluation["checks"])
        # The investigator may not review the claim they investigated.
        assert investigator.post(f"/claims/{claim['id']}/decision", json={"approve": True}).status_code == 403
        decision = ok(reviewer.post(f"/claims/{claim['id']}/decision", json={"approve": True, "reason": "符合计划规则"}))
        assert decision["amount"] == amount and decision["case_no"]
        case_nos[claim["id"]] = decision["case_no"]
    peng_case, zhou_case = case_nos[peng_claim["id"]], case_nos[zhou_claim["id"]]

    listed = {c["case_no"]: c for c in ok(public.get("/cases"))["items"]}
    assert listed[peng_case]["masked_name"] == "彭*" and listed[peng_case]["gender"] == "F"
    assert listed[peng_case]["age"] == 25 and listed[peng_case]["province_zh"].startswith("广西")
    assert listed[peng_case]["status"] == "in_notice" and listed[zhou_case]["amount"] == "90000.00"

    # 2016-02-18: a member objects to 周四喜's case; the approving reviewer may not resolve it.
    set_clock(admin, "2016-02-18T10:00:00+08:00")
    objector, objector_member = new_member(live, "13800000003", "林晓",
                                           make_resident_id("440106", date(1985, 3, 3), 7, "F"), [ACCIDENT])
    objection = ok(objector.post(f"/cases/{zhou_case}/objections", json={
        "member_id": objector_member, "reason": "加入后第三天即出险，请核实受伤时间。"}), 201)
    assert objection["status"] == "open"
    set_clock(admin, "2016-02-19T10:00:00+08:00")
    assert reviewer.post(f"/objections/{objection['id']}/resolution",
                         json={"upheld": False, "note": "自己审核的案件"}).status_code == 403
    resolved = ok(reviewer2.post(f"/objections/{objection['id']}/resolution", json={
        "upheld": False, "note": "调查报告确认受伤时间为 2016-02-09，在生效日 2016-02-07 之后。"}))
    assert resolved["status"] == "dismissed"

    # Before the notice ends a run shares nothing.
    assert ok(admin.post("/runs", headers={"Idempotency-Key": str(uuid.uuid4())}))["run_no"] is None

    # The sandbox clock jumps past the 7-day notice; the admin triggers the run.
    ok(admin.post("/sandbox/clock", json={"advance": "P4DT1H"}))
    assert ok(admin.get("/sandbox/clock"))["now"].startswith("2016-02-23T03:00:00")
    run_key = str(uuid.uuid4())
    report = ok(admin.post("/runs", headers={"Idempotency-Key": run_key}))
    assert report["run_no"] and sorted(report["cases_shared"]) == sorted([peng_case, zhou_case])
    assert sorted(report["cases_paid"]) == sorted([peng_case, zhou_case])
    assert report["reconciliation_matched"] is True
    assert ok(admin.post("/runs", headers={"Idempotency-Key": run_key})) == report  # replayed, not re-run

    run = ok(public.get(f"/runs/{report['run_no']}"))
    assert {c["case_no"] for c in run["cases"]} == {peng_case, zhou_case}
    peng_public = ok(public.get(f"/cases/{peng_case}"))
    assert peng_public["status"] == "paid" and peng_public["run_no"] == report["run_no"]
    assert peng_public["payouts"] and peng_public["payouts"][0]["state"] == "posted"
    assert peng_public["payouts"][0]["amount"] == peng_public["collected"]
    zhou_public = ok(public.get(f"/cases/{zhou_case}"))
    assert [o["status"] for o in zhou_public["objections"]] == ["dismissed"]
    # A tiny pool raises less than the benefit: the shortfall is published.
    assert float(peng_public["collected"]) + float(peng_public["shortfall"]) == 100000.0

    # A pool member sees both deductions, each with its case, and can prove inclusion.
    client, mid = pool[0]
    ledger = ok(client.get(f"/members/{mid}/ledger"))["items"]
    deductions = {line["case_no"]: line for line in ledger if line["kind"] == "share"}
    assert set(deductions) == {peng_case, zhou_case}
    assert all(line["direction"] == "out" and line["amount"] == "3.00" for line in deductions.values())
    proof = ok(client.get(f"/members/{mid}/shares/{peng_case}"))
    assert proof["published_root"] == proof["root_hash"]
    verify_inclusion(leaf_hash(proof["leaf"].encode()), proof["leaf_index"], proof["tree_size"],
                     [bytes.fromhex(h) for h in proof["proof"]], bytes.fromhex(proof["root_hash"]))
    assert zhou_client.get(f"/members/{mid}/shares/{peng_case}").status_code == 404  # not their member

    # The books hold, and the public record verifies.
    check = ok(auditor.get("/ledger/check"))
    assert check["ok"], check
    head = ok(public.get("/transparency/tree-head"))
    record = ok(public.get("/transparency/records", params={"limit": 1}))["items"][0]
    rp = ok(public.get(f"/transparency/records/{record['id']}/proof"))
    assert rp["root_hash"] == head["root_hash"]
    verify_inclusion(leaf_hash(record["payload"].encode()), rp["leaf_index"], rp["tree_size"],
                     [bytes.fromhex(h) for h in rp["proof"]], bytes.fromhex(rp["root_hash"]))
    assert ok(public.get("/payouts"))["items"]
    csv_export = public.get("/exports/cases", params={"format": "csv"})
    assert csv_export.status_code == 200 and peng_case in csv_export.text and "彭静" not in csv_export.text
