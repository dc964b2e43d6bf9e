"""Bad input on every write endpoint: a 4xx application/problem+json and nothing written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

import huzhu.models as models
from e2e.helpers import LiveServer
from e2e.world import build_world

pytestmark = pytest.mark.e2e


def row_counts(live: LiveServer) -> dict[str, int]:
    with live.platform.factory() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) or 0
                for t in models.Base.metadata.sorted_tables if not t.name.startswith("login_")}


def test_bad_input_is_refused_and_writes_nothing(live: LiveServer) -> None:
    w = build_world(live)
    m, cl, c = w.member_a, w.claim_a, w.case_c
    bad = [
        ("anonymous", "/auth/register", [{}, {"login": "not a login", "password": "abc12345x", "display_name": "x"},
                                         {"login": "13911111111", "password": "short", "display_name": "x"},
                                         {"login": "13911111111", "password": "12345678901", "display_name": "x"},
                                         {"login": "13911111111", "password": "abc12345x", "display_name": ""},
                                         {"login": "13911111111", "password": "abc12345x", "display_name": "x",
                                          "role": "admin"}]),
        ("member", "/members", [{}, {"name": "张三", "id_number": "110101199003070000"},
                                {"name": "张三", "id_number": "abc"}, {"name": "", "id_number": w.id_numbers[0]},
                                {"name": "张三", "id_number": w.id_numbers[1], "relationship": "child"},
                                {"name": "张三", "id_number": w.id_numbers[0], "relationship": "cousin"}]),
        ("member", f"/members/{m}/top-ups", [{}, {"amount": 5}, {"amount": 5.5}, {"amount": "5.555"},
                                             {"amount": "-5.00"}, {"amount": "0.00"}, {"amount": "1e3"},
                                             {"amount": "99999999999999.00"}, {"amount": "5.00", "x": 1}]),
        ("member", f"/members/{m}/withdrawals", [{"amount": "1.00"}, {"amount": "1.00", "bank_account": "12"},
                                                 {"amount": "100000.00", "bank_account": "6222020000000000055"},
                                                 {"amount": "0", "bank_account": "6222020000000000055"}]),
        ("member", f"/members/{m}/enrollments", [{}, {"plan_code": "no-such-plan"},
                                                 {"plan_code": "comprehensive-accident"},
                                                 {"plan_code": "quark-no1", "health_answers": {"x": "maybe"}}]),
        ("member", f"/enrollments/{w.enrollment_a}/leave", [{"bank_account": "abc"}, {"extra": True}]),
        ("member", "/claims", [{}, {"member_id": m, "plan_code": "comprehensive-accident",
                                    "benefit_code": "nope", "incident_date": "2016-01-03", "beneficiary_name": "x",
                                    "beneficiary_account": "6222020000000000033"},
                               {"member_id": m, "plan_code": "comprehensive-accident",
                                "benefit_code": "accidental_death", "incident_date": "2030-01-01",
                                "beneficiary_name": "x", "beneficiary_account": "6222020000000000033"},
                               {"member_id": m, "plan_code": "comprehensive-accident",
                                "benefit_code": "accidental_death", "incident_date": "2015-01-01",
                                "beneficiary_name": "x", "beneficiary_account": "6222020000000000033"},
                               {"member_id": m, "plan_code": "comprehensive-accident",
                                "benefit_code": "accidental_death", "incident_date": "not-a-date",
                                "beneficiary_name": "x", "beneficiary_account": "1"}]),
        ("member", f"/cases/{c}/objections", [{}, {"member_id": m, "reason": "no"}, {"member_id": 0, "reason": "x" * 9}]),
        ("investigator", f"/claims/{cl}/investigation/report", [{}, {"company": "", "summary": "s",
                                                                      "confirmed_incident_date": "2016-01-03"}]),
        ("reviewer", f"/claims/{cl}/decision", [{}, {"approve": "perhaps"}, {"approve": True}]),
        ("reviewer", f"/objections/{w.objection}/resolution", [{}, {"upheld": False, "note": ""},
                                                               {"upheld": "x", "note": "ok ok"}]),
        ("admin", "/sandbox/clock", [{}, {"advance": "-P1D"}, {"to": "2016-01-01T00:00:00"},
                                     {"to": "2015-01-01T00:00:00+08:00"}, {"advance": "P1D", "to": "2017-01-01T00:00:00Z"}]),
    ]
    before = row_counts(live)
    for role, path, bodies in bad:
        client = w.clients[role]
        for body in [*bodies, "not json"]:
            headers = {"Idempotency-Key": str(uuid.uuid4())}
            if isinstance(body, str):
                response = client.post(path, content=body, headers={**headers, "content-type": "application/json"})
            else:
                response = client.post(path, json=body, headers=headers)
            assert 400 <= response.status_code < 500, f"{path} {body!r}: {response.status_code} {response.text}"
            assert response.headers["content-type"].startswith("application/problem+json"), path
            problem = response.json()
            assert problem["status"] == response.status_code and problem["type"].startswith("/problems/")
            assert problem["detail"], problem
    # Evidence: wrong type, empty, too large.
    member = w.clients["member"]
    for files in ({"file": ("x.exe", b"MZ\x90\x00", "application/pdf")}, {"file": ("e.pdf", b"", "application/pdf")}):
        response = member.post(f"/claims/{cl}/evidence", files=files)
        assert response.status_code in (415, 422), response.text
    live.platform.settings.max_upload_bytes = 1024
    response = member.post(f"/claims/{cl}/evidence", files={"file": ("big.pdf", b"%PDF-" + b"0" * 4096, "application/pdf")})
    assert response.status_code == 413, response.text
    assert row_counts(live) == before
    leftovers = list((live.platform.settings.data_dir / "evidence").glob(".upload-*"))
    assert not leftovers, leftovers
