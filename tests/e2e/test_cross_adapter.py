"""The API and the web pages are two doors to the same rooms: what one writes, the other reads.

Evidence uploaded through the API opens on the staff page and the reverse (one store); a claim
filed with the web form is the same claim, in the same state, through the API; the public figures
on the operating report page are the API's ``/report``.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

import httpx
import pytest

from e2e.helpers import MEMBER_PASSWORD, PASSWORD, LiveServer, actor, create_staff, page_csrf, web_login

pytestmark = pytest.mark.e2e

ACCIDENT = "comprehensive-accident"
PDF_API = b"%PDF-1.4\n% uploaded through the API\n%%EOF\n"
PNG_WEB = b"\x89PNG\r\n\x1a\n" + b"uploaded through the web form" + b"\x00" * 16


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def browser(live: LiveServer, login_name: str, password: str = PASSWORD) -> httpx.Client:
    """A client that uses the pages as a browser does: logged in with the form, its session cookie kept."""
    return web_login(live, login_name, password)


def csrf(client: httpx.Client) -> str:
    """The page's CSRF token (bound to the client's session)."""
    return page_csrf(client, "/")


def test_evidence_claims_and_figures_are_shared_by_the_api_and_the_pages(live: LiveServer) -> None:
    create_staff(live.platform, "admin", "admin@x.example", "管理员")
    create_staff(live.platform, "reviewer", "rev@x.example", "审核员")
    admin, reviewer_api = actor(live, "admin@x.example"), actor(live, "rev@x.example")
    ok(admin.post("/sandbox/clock", json={"to": "2016-01-01T10:00:00+08:00"}))
    ok(live.client().post("/auth/register", json={"login": "13700000009", "password": MEMBER_PASSWORD,
                                                   "display_name": "两扇门"}), 201)
    member_api = actor(live, "13700000009", MEMBER_PASSWORD)
    from huzhu.identity import make_resident_id

    member_id = ok(member_api.post("/members", json={"name": "两扇门", "id_number": make_resident_id(
        "110101", date(1980, 1, 1), 5, "F")}), 201)["id"]
    ok(member_api.post(f"/members/{member_id}/enrollments", json={"plan_code": ACCIDENT},
                       headers={"Idempotency-Key": str(uuid.uuid4())}), 201)
    ok(admin.post("/sandbox/clock", json={"to": "2016-01-10T10:00:00+08:00"}))

    # A claim filed with the web form, with a document, is the same claim through the API.
    member_web = browser(live, "13700000009", MEMBER_PASSWORD)
    page = member_web.post("/me/claims/new", data={
        "csrf_token": csrf(member_web), "choice": f"{member_id}:{ACCIDENT}:accidental_disability",
        "incident_date": "2016-01-05", "incident_place": "北京", "description": "摔倒骨折",
        "beneficiary_name": "两扇门", "beneficiary_account": "6222020000000000099", "evidence_kind_1": "medical",
    }, files={"evidence_1": ("scan.png", PNG_WEB, "image/png")})
    assert page.status_code == 303, page.text
    claim_id = int(re.search(r"/me/claims/(\d+)", page.headers["location"]).group(1))
    claim = ok(member_api.get(f"/claims/{claim_id}"))
    assert (claim["status"], claim["incident_date"], claim["benefit_code"]) == ("submitted", "2016-01-05",
                                                                                 "accidental_disability")
    claim_page = member_web.get(f"/me/claims/{claim_id}")
    assert claim_page.status_code == 200 and claim["claim_no"] in claim_page.text

    # The web form's document downloads through the API, byte for byte.
    web_docs = ok(reviewer_api.get(f"/claims/{claim_id}/evidence"))["items"]
    assert [d["filename"] for d in web_docs] == ["scan.png"] and web_docs[0]["kind"] == "medical"
    download = reviewer_api.get(f"/claims/{claim_id}/evidence/{web_docs[0]['id']}/content")
    assert download.status_code == 200 and download.content == PNG_WEB

    # A document uploaded through the API opens on the staff page, byte for byte.
    api_doc = ok(member_api.post(f"/claims/{claim_id}/evidence", data={"kind": "invoice"},
                                 files={"file": ("bill.pdf", PDF_API, "application/pdf")}), 201)
    reviewer_web = browser(live, "rev@x.example")
    shown = reviewer_web.get(f"/staff/evidence/{api_doc['id']}")
    assert shown.status_code == 200 and shown.content == PDF_API
    assert reviewer_web.get(f"/staff/evidence/{web_docs[0]['id']}").content == PNG_WEB
    member_page = member_web.get(f"/me/claims/{claim_id}").text
    assert "bill.pdf" in member_page and "scan.png" in member_page

    # The public figures: the report page shows what /report answers.
    report = ok(live.client().get("/report"))
    assert report["members"] == 1 and report["fees"] == "0.00"
    held = report["held_by_custodian"]
    assert held == "9.00"
    page = httpx.get(live.url + "/report?lang=en", headers={"Accept": "text/html"}).text
    by_label = {label: value for value, label in re.findall(r"<strong>([^<]+)</strong><span>([^<]+)</span>", page)}
    assert by_label["members in plans"] == str(report["members"])
    assert by_label["enrollments in force"] == str(report["enrollments_in_force"])
    assert by_label["held by the custodian bank"] == f"¥{held}"
    assert by_label["aid paid"] == f"¥{report['aid_paid']}"
    assert by_label["management fees (zero profit)"] == f"¥{report['fees']}"
