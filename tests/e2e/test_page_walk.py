"""After ``huzhu demo``, every page answers every role as it should, on SQLite and on PostgreSQL.

Run as a newcomer would: the real ``huzhu demo`` and ``huzhu serve`` commands in their own
processes, over a fresh database of each kind. Every GET page of the portal is opened by the
public, the demo's members and each staff role: a role the page is for gets 200 (or the page's
redirect), another signed-in role gets 403, the public is sent to the login page. Nothing may
answer 5xx and the server's log must hold no error. A page added to the portal without an entry
in ``ACCESS`` fails the walk, so new pages are walked too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from e2e.helpers import CSRF_IN_PAGE, free_port, wait_until_ready
from huzhu.accounts.service import find_account_by_login
from huzhu.apportionment.models import ApportionmentRun
from huzhu.claims.models import Claim, Evidence, EvidenceKind
from huzhu.config import DEFAULT_ID_NUMBER_KEY
from huzhu.db import normalise_url
from huzhu.exports import DATASETS
from huzhu.ledger.models import Entry, Transfer
from huzhu.members.models import Enrollment, Member
from huzhu.notices.models import Case
from huzhu.sealing.keyring import Keyring, attach_keyring
from huzhu.web import router

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
HUZHU = Path(sys.executable).with_name("huzhu")
PASSWORD = "demo-pass-2016"

LOGINS = {
    "peng_family": "13800000001", "zhou": "13800000002", "objector": "13800000003",
    "investigator": "investigator@huzhu.example", "reviewer": "reviewer@huzhu.example",
    "reviewer2": "reviewer2@huzhu.example", "admin": "admin@huzhu.example", "auditor": "auditor@huzhu.example",
}
MEMBERS = ("peng_family", "zhou", "objector")
STAFF = ("investigator", "reviewer", "reviewer2", "admin", "auditor")
EVERYONE = ("anonymous", *MEMBERS, *STAFF)
SIGNED_IN = (*MEMBERS, *STAFF)
REVIEWERS = ("reviewer", "reviewer2")

# page → (roles it is for, the status they get). Other signed-in roles get 403; the public gets
# the login redirect (unless the page is public).
ACCESS: dict[str, tuple[tuple[str, ...], int]] = {
    "/": (EVERYONE, 200),
    "/lang/{code}": (EVERYONE, 303),
    "/plans": (EVERYONE, 200),
    "/plans/{code}": (EVERYONE, 200),
    "/cases": (EVERYONE, 200),
    "/cases/{case_no}": (EVERYONE, 200),
    "/runs": (EVERYONE, 200),
    "/runs/{run_no}": (EVERYONE, 200),
    "/report": (EVERYONE, 200),
    "/liabilities": (EVERYONE, 200),
    "/open-data": (EVERYONE, 200),
    "/open-data/{name}": (EVERYONE, 200),
    "/register": (EVERYONE, 200),
    "/help": (EVERYONE, 200),
    "/documents/{kind}.svg": (EVERYONE, 200),
    "/login": (EVERYONE, 200),
    "/me": (MEMBERS, 200),
    "/me/members/{member_id:int}": (MEMBERS, 200),
    "/me/members/new": (MEMBERS, 200),
    "/me/members/{member_id:int}/join": (MEMBERS, 200),
    "/me/members/{member_id:int}/top-up": (MEMBERS, 200),
    "/me/members/{member_id:int}/withdraw": (MEMBERS, 200),
    "/me/members/{member_id:int}/bank": (MEMBERS, 200),
    "/me/members/{member_id:int}/leave/{enrollment_id:int}": (MEMBERS, 200),
    "/me/members/{member_id:int}/proof/{case_no}": (MEMBERS, 200),
    "/me/members/{member_id:int}/verify": (MEMBERS, 200),
    "/me/members/{member_id:int}/verify/balance.json": (MEMBERS, 200),
    "/me/members/{member_id:int}/verify/shares/{case_no}.json": (MEMBERS, 200),
    "/me/claims/new": (MEMBERS, 200),
    "/me/claims/{claim_id:int}": (MEMBERS, 200),
    "/me/claims/{claim_id:int}/receipt.pdf": (MEMBERS, 200),  # both demo claims are paid
    "/me/complaints": (MEMBERS, 200),
    "/cases/{case_no}/object": (MEMBERS, 200),
    "/staff": (STAFF, 303),  # to each role's desk; the auditor's desk is this page (AUDITOR_DESK)
    "/staff/complaints": (("admin", "auditor"), 200),
    "/staff/custody": (("reviewer", "reviewer2", "admin", "auditor"), 200),
    "/staff/investigations": (("investigator",), 200),
    "/staff/claims/{claim_id:int}/report": (("investigator",), 200),
    "/staff/evidence/{evidence_id:int}": (("investigator", *REVIEWERS, "admin"), 200),
    "/staff/reviews": (REVIEWERS, 200),
    "/staff/claims/{claim_id:int}/review": (REVIEWERS, 200),
    "/staff/objections": (REVIEWERS, 200),
    "/staff/audit": (("auditor",), 200),
    "/admin": (("admin",), 200),
    "/admin/run/progress": (("admin",), 200),
}


# A page that answers one of its roles differently: the auditor's desk is /staff itself.
ROLE_STATUS = {("/staff", "auditor"): 200}


def page_paths() -> list[str]:
    """Every GET page the portal serves, from its router (included routers walked too)."""
    def walk(routes: list) -> Iterator:  # noqa: ANN202
        for route in routes:
            inner = getattr(route, "original_router", None)
            yield from walk(inner.routes) if inner is not None else [route]
    return [r.path for r in walk(router.routes) if "GET" in getattr(r, "methods", ())]


@dataclass
class Demo:
    url: str
    database_url: str
    log: Path
    cookies: dict[str, str]  # each role's web session


@pytest.fixture
def demo(database_url: str, tmp_path: Path) -> Iterator[Demo]:
    env = {**os.environ, "HUZHU_DATABASE_URL": database_url, "HUZHU_DATA_DIR": str(tmp_path / "data"),
           "HUZHU_PLANS_DIR": str(REPO / "plans"), "HUZHU_MODE": "sandbox", "HUZHU_LOG_LEVEL": "INFO",
           # This checkout's code, whichever checkout the `huzhu` script was installed from.
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    story = subprocess.run([str(HUZHU), "demo", "--members", "300", "--reset"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert story.returncode == 0, story.stdout[-3000:] + story.stderr[-3000:]
    assert "all invariants hold" in story.stdout
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(HUZHU), "serve", "--port", str(port)], env=env, cwd=tmp_path,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, server, log, path="/readyz")
        cookies = {}
        for role, login in LOGINS.items():  # each role logs in with the login form, as a browser does
            with httpx.Client(base_url=url, timeout=30, headers={"Accept": "text/html"}) as browser:
                token = CSRF_IN_PAGE.search(browser.get("/login").text)
                assert token, "no CSRF token on the login page"
                answer = browser.post("/login", data={"login": login, "password": PASSWORD,
                                                      "csrf_token": token.group(1)})
                assert answer.status_code == 303, answer.text[:500]
                cookies[role] = browser.cookies["huzhu_session"]
        yield Demo(url=url, database_url=database_url, log=log, cookies=cookies)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def samples(demo: Demo, role: str) -> dict[str, list[str]]:
    """Values for each path parameter, as seen by ``role``: a member gets their own members,
    enrollments and claims; staff get every claim and piece of evidence."""
    engine = create_engine(normalise_url(demo.database_url))
    attach_keyring(engine, Keyring(root_secret=DEFAULT_ID_NUMBER_KEY))  # the sandbox demo's sealing key
    try:
        with Session(engine) as s:
            login = LOGINS.get(role)
            account = find_account_by_login(s, login) if login else None  # phones are sealed: by digest
            own_members = list(s.scalars(select(Member).where(Member.account_id == account.id))) if account else []
            member_ids = [m.id for m in own_members] or [m for m in s.scalars(select(Member.id).limit(1))]
            claims = (list(s.scalars(select(Claim.id).join(Member, Member.id == Claim.member_id)
                                     .where(Member.account_id == account.id)))
                      if role in MEMBERS else list(s.scalars(select(Claim.id))))
            paid = s.execute(
                select(Member.id, Case.case_no).join(Entry, Entry.account_id == Member.ledger_account_id)
                .join(Transfer, Transfer.id == Entry.transfer_id).join(Case, Case.id == Transfer.case_id)
                .where(Member.id.in_(member_ids), Transfer.kind == "share", Entry.direction == 1)
            ).all() if role in MEMBERS else []
            return {
                "code": ["comprehensive-accident", "quark-no1", "driving-risk"],
                "lang_code": ["en", "zh"],
                "case_no": list(s.scalars(select(Case.case_no))),
                "run_no": list(s.scalars(select(ApportionmentRun.run_no))),
                "name": [f"{d}.{fmt}" for d in DATASETS for fmt in ("csv", "json")],
                "member_id": [str(i) for i in member_ids],
                "enrollment_id": [str(i) for i in s.scalars(select(Enrollment.id).where(
                    Enrollment.member_id.in_(member_ids)))],
                "claim_id": [str(i) for i in claims],
                "evidence_id": [str(i) for i in s.scalars(select(Evidence.id))],
                "kind": [kind.value for kind in EvidenceKind],
                "proof": [f"{member_id}/proof/{case_no}" for member_id, case_no in paid],
            }
    finally:
        engine.dispose()


def addresses(path: str, values: dict[str, list[str]]) -> list[str]:
    """Concrete addresses for a page path: each parameter filled with each of its sample values
    (the member's own member and one of its enrollments or paid cases where they go together)."""
    names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
    if not names:
        return [path]
    key = {("code",): "lang_code" if path.startswith("/lang") else "code"}.get(tuple(names))
    if names == ["member_id", "case_no"]:
        pairs = [proof.split("/proof/") for proof in values["proof"]]
        return [path.replace("{member_id:int}", member_id).replace("{case_no}", case_no) for member_id, case_no in pairs]
    if names == ["member_id", "enrollment_id"]:
        return [f"/me/members/{values['member_id'][0]}/leave/{e}" for e in values["enrollment_id"][:2]]
    if len(names) == 1:
        filled = values[key or names[0]]
        return [re.sub(r"\{\w+(?::\w+)?\}", v, path) for v in filled]
    raise AssertionError(f"no way to fill {path}: add it to addresses()")


def test_every_page_answers_every_role_after_the_demo(demo: Demo) -> None:
    paths = page_paths()
    assert set(paths) == set(ACCESS), (
        f"pages without an expectation: {sorted(set(paths) - set(ACCESS))}; "
        f"expectations for pages that no longer exist: {sorted(set(ACCESS) - set(paths))}")
    failures, opened, served = [], 0, dict.fromkeys(paths, 0)
    for role in EVERYONE:
        values = samples(demo, role)
        cookies = {"huzhu_session": demo.cookies[role]} if role != "anonymous" else {}
        with httpx.Client(base_url=demo.url, cookies=cookies, timeout=60, headers={"Accept": "text/html"}) as client:
            for path in paths:
                allowed, status = ACCESS[path]
                status = ROLE_STATUS.get((path, role), status)
                concrete = addresses(path, values)
                for address in concrete:
                    answer = client.get(address)
                    opened += 1
                    if role in allowed:
                        expected = {status}
                    elif role == "anonymous":
                        expected = {303}
                    else:
                        expected = {403}
                    if role in allowed and answer.status_code == status:
                        served[path] += 1
                    if answer.status_code not in expected:
                        failures.append(f"{role} GET {address}: {answer.status_code}, expected {sorted(expected)}")
                    elif answer.status_code == 303 and role == "anonymous" and status != 303:
                        assert answer.headers["location"].startswith("/login"), address
    failures += [f"{path}: no role opened it (the demo has nothing to show there)"
                 for path, count in served.items() if not count]
    assert not failures, "\n".join(failures)
    assert opened > 200
    errors = [line for line in demo.log.read_text().splitlines()
              if line.startswith("{") and json.loads(line).get("level") in ("error", "critical")]
    assert not errors, "\n".join(errors[:5])
