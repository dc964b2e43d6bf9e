"""Every endpoint × every role (anonymous, member, another member, investigator, reviewer, admin,
auditor) → the expected status; and no private field in any public response."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import date

import httpx
import pytest

from e2e.helpers import LiveServer
from e2e.world import PRIVATE, World, build_world
from huzhu.identity import make_resident_id

pytestmark = pytest.mark.e2e

# The owner acts last so that its successful writes do not change what the others see.
ROLES = ("anonymous", "other", "investigator", "reviewer", "admin", "auditor", "member")
PUBLIC = {r: 200 for r in ROLES}


def logged_in(member: int, other: int, staff: int | dict[str, int], anonymous: int = 401) -> dict[str, int]:
    staff = staff if isinstance(staff, dict) else {r: staff for r in ("investigator", "reviewer", "admin", "auditor")}
    return {"anonymous": anonymous, "member": member, "other": other, **staff}


def staff(investigator: int, reviewer: int, admin: int, auditor: int) -> dict[str, int]:
    return {"investigator": investigator, "reviewer": reviewer, "admin": admin, "auditor": auditor}


_seq = itertools.count(10)


def child_body(_role: str) -> dict:
    n = next(_seq)
    return {"name": "孩子", "relationship": "child", "id_number": make_resident_id("310104", date(2010, 1, n % 28 + 1),
                                                                                   n, "F")}


def matrix(w: World) -> list[tuple[str, str, dict | None, dict[str, int]]]:
    m, c, cl, ev = w.member_a, w.case_c, w.claim_a, w.evidence_a
    own_read = logged_in(200, 404, staff(403, 403, 200, 200))
    claim_read = logged_in(200, 404, 200)
    return [
        ("GET", "/plans", None, PUBLIC),
        ("GET", "/plans/comprehensive-accident", None, PUBLIC),
        ("GET", "/cases", None, PUBLIC),
        ("GET", f"/cases/{c}", None, PUBLIC),
        ("GET", f"/cases/{c}/objections", None, PUBLIC),
        ("GET", "/payouts", None, PUBLIC),
        ("GET", "/runs", None, PUBLIC),
        ("GET", "/runs/R999999", None, {r: 404 for r in ROLES}),
        ("GET", "/reconciliations", None, PUBLIC),
        ("GET", "/exports/cases?format=csv", None, PUBLIC),
        ("GET", "/exports/records?format=json", None, PUBLIC),
        ("GET", "/transparency/tree-head", None, PUBLIC),
        ("GET", "/transparency/records", None, PUBLIC),
        ("GET", "/transparency/records/1/proof", None, PUBLIC),
        ("GET", "/me", None, logged_in(200, 200, 200)),
        ("GET", "/members", None, logged_in(200, 200, staff(403, 403, 200, 200))),
        ("GET", f"/members/{m}", None, own_read),
        ("GET", f"/members/{m}/enrollments", None, own_read),
        ("GET", f"/members/{m}/ledger", None, own_read),
        ("GET", f"/members/{m}/shares/{c}", None, logged_in(404, 404, staff(403, 403, 404, 404))),
        ("GET", "/claims", None, logged_in(200, 200, 200)),
        ("GET", f"/claims/{cl}", None, claim_read),
        # An investigator reads the documents of the claims assigned to them only (claim_a is not).
        ("GET", f"/claims/{cl}/evidence", None, logged_in(200, 404, staff(403, 200, 200, 403))),
        ("GET", f"/claims/{cl}/evidence/{ev}/content", None, logged_in(200, 404, staff(403, 200, 200, 403))),
        ("GET", f"/claims/{cl}/payee-changes", None, logged_in(403, 403, staff(403, 200, 200, 200))),
        ("GET", "/audit/reads", None, logged_in(403, 403, staff(403, 403, 403, 200))),
        ("GET", f"/claims/{cl}/investigation/reports", None, claim_read),
        ("GET", f"/claims/{cl}/evaluation", None, logged_in(403, 403, staff(403, 200, 200, 200))),
        ("GET", "/objections", None, logged_in(403, 403, staff(403, 200, 200, 403))),
        ("GET", "/ledger/check", None, logged_in(403, 403, staff(403, 403, 200, 200))),
        ("GET", "/sandbox/clock", None, logged_in(403, 403, staff(403, 403, 200, 403))),
        ("POST", "/members", child_body, logged_in(201, 201, 403)),
        ("POST", f"/members/{m}/top-ups", {"amount": "5.00"}, logged_in(201, 404, 403)),
        ("POST", f"/members/{m}/withdrawals", {"amount": "1.00", "bank_account": "6222020000000000055"},
         logged_in(201, 404, 403)),
        ("POST", f"/members/{m}/enrollments", {"plan_code": "driving-risk"}, logged_in(201, 404, 403)),
        ("POST", f"/enrollments/{w.enrollment_a}/leave", {}, logged_in(200, 404, 403)),
        ("POST", "/claims", lambda role: {
            "member_id": m, "plan_code": "comprehensive-accident", "benefit_code": "accidental_death",
            "incident_date": "2016-01-04" if role == "admin" else "2016-01-05", "beneficiary_name": "受益人甲",
            "beneficiary_account": "6222020000000000033"}, logged_in(201, 404, 403)),  # staff never file claims
        ("POST", f"/claims/{cl}/payee-changes", {"beneficiary_name": "新收款人", "beneficiary_account": "6222020000000000077",
                                                 "reason": "银行退回原账户"},
         logged_in(403, 403, staff(403, 201, 409, 403))),  # the reviewer's proposal waits; a second one is refused
        ("POST", f"/claims/{cl}/evidence", "upload", logged_in(201, 404, 403)),
        ("POST", f"/cases/{c}/objections", {"member_id": m, "reason": "再次核实事故经过。"},
         logged_in(409, 404, 403)),
        ("POST", f"/claims/{cl}/investigation", None, logged_in(403, 403, staff(200, 403, 403, 403))),
        ("POST", f"/claims/{cl}/investigation/report", {
            "company": "调查公司", "summary": "伤残属实。", "confirmed_incident_date": "2016-01-03",
            "facts": {"disability_grades": [5]}}, logged_in(403, 403, staff(201, 403, 403, 403))),
        ("POST", f"/claims/{cl}/decision", {"approve": False, "reason": "材料不足"},
         logged_in(403, 403, staff(403, 200, 403, 403))),
        ("POST", f"/objections/{w.objection}/resolution", {"upheld": False, "note": "经核实无误。"},
         logged_in(403, 403, staff(403, 200, 403, 403))),
        ("POST", "/runs", None, logged_in(403, 403, staff(403, 403, 200, 403))),
        ("POST", "/sandbox/clock", {"advance": "PT1S"}, logged_in(403, 403, staff(403, 403, 200, 403))),
    ]


def call(w: World, role: str, method: str, path: str, body):  # noqa: ANN001, ANN201
    client = w.clients[role]
    if body == "upload":
        return client.post(path, data={"kind": "invoice"}, files={"file": ("i.png", b"\x89PNG\r\n\x1a\n....",
                                                                            "image/png")})
    payload = body(role) if callable(body) else body
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    return client.request(method, path, json=payload, headers=headers if method == "POST" else None)


def assert_no_private_data(text: str, w: World, where: str) -> None:
    for kind, values in {**PRIVATE, "id_numbers": w.id_numbers}.items():
        for value in values:
            assert value not in text, f"{where}: public response contains {kind} {value!r}"


def test_authorisation_matrix_and_public_privacy(live: LiveServer) -> None:
    w = build_world(live)
    failures = []
    for method, path, body, expected in matrix(w):
        assert set(expected) == set(ROLES), path
        for role in ROLES:
            response = call(w, role, method, path, body)
            if response.status_code != expected[role]:
                failures.append(f"{method} {path} as {role}: {response.status_code} (expected {expected[role]}) "
                                f"{response.text[:160]}")
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("application/problem+json"), path
            if role == "anonymous" and response.status_code == 200:
                assert_no_private_data(response.text, w, f"{method} {path}")
    assert not failures, "\n".join(failures)


def test_public_schemas_have_no_private_fields(live: LiveServer) -> None:
    spec = httpx.get(live.url + "/openapi.json").json()
    forbidden = {"name", "display_name", "id_number", "phone", "email", "bank_account", "beneficiary_name",
                 "beneficiary_account", "creditor_name", "creditor_account", "storage_path", "filename"}
    schemas = spec["components"]["schemas"]

    def fields(ref: str, seen: set[str]) -> set[str]:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return set()
        seen.add(name)
        found = set()
        text = json.dumps(schemas[name])
        for prop in schemas[name].get("properties", {}):
            found.add(prop)
        for sub in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
            found |= fields(sub, seen)
        return found

    for path, ops in spec["paths"].items():
        get = ops.get("get")
        if get is None or "security" in json.dumps(get) or not path.startswith("/api/v1/"):
            continue
        if any(path.startswith(f"/api/v1/{p}") for p in ("cases", "runs", "plans", "payouts", "transparency",
                                                         "reconciliations")):
            content = get["responses"]["200"]["content"]
            for media in content.values():
                ref = json.dumps(media.get("schema", {}))
                for r in {part.split('"')[0] for part in ref.split('"$ref": "')[1:]}:
                    leaked = fields(r, set()) & forbidden
                    assert not leaked, f"{path} exposes {leaked}"
