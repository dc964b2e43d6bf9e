"""A real ``huzhu serve`` SIGKILLed in the middle of money-moving requests (before its commit, after
its commit, inside the action), restarted, and the clients' Idempotency-Key replays: exactly one
deposit per top-up key, one refund for the leave, and every invariant holds."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from e2e.helpers import HUZHU, REPO, LoginAuth, page_csrf, port_in, wait_until_ready, web_login
from huzhu.app import build_platform
from huzhu.config import Settings
from huzhu.crash import check_after_restart
from huzhu.identity import make_resident_id

PORTS = range(18500, 18600)  # this suite's loopback ports
PASSWORD = "crash-test-pass-2016"
ACCIDENT = "comprehensive-accident"


def port_in_range() -> int:
    return port_in(f"{PORTS.start}-{PORTS.stop - 1}")


@contextmanager
def serve(database_url: str, folder: Path, armed: str = "") -> Iterator[tuple[str, subprocess.Popen]]:
    env = {**os.environ, "HUZHU_DATABASE_URL": database_url, "HUZHU_DATA_DIR": str(folder / "data"),
           "HUZHU_PLANS_DIR": str(REPO / "plans"), "HUZHU_MODE": "sandbox", "HUZHU_FAILPOINTS": armed,
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    port = port_in_range()
    with (folder / "serve.log").open("a") as out:
        process = subprocess.Popen([str(HUZHU), "serve", "--port", str(port)], env=env, cwd=folder,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, folder / "serve.log")
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def client(url: str, login: str) -> httpx.Client:
    return httpx.Client(base_url=url + "/api/v1", auth=LoginAuth(url, login, PASSWORD), timeout=60)


def killed(process: subprocess.Popen) -> bool:
    return process.wait(timeout=30) == -signal.SIGKILL


def test_a_server_killed_mid_request_books_each_keyed_request_once(database_url: str, tmp_path: Path) -> None:
    build_platform(Settings(mode="sandbox", database_url=database_url, data_dir=tmp_path / "data",
                            plans_dir=REPO / "plans")).engine.dispose()
    keys = [f"top-up-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
    leave_key = f"leave-{uuid.uuid4().hex[:6]}"

    def top_up(api: httpx.Client, member: int, key: str) -> httpx.Response:
        return api.post(f"/members/{member}/top-ups", json={"amount": "10.00"}, headers={"Idempotency-Key": key})

    # The third top-up dies just before its commit: the client sees the connection drop.
    with serve(database_url, tmp_path, armed="api.top_up.before_commit=kill@3") as (url, process):
        httpx.post(url + "/api/v1/auth/register", json={"login": "13700000031", "password": PASSWORD,
                                                       "display_name": "崩溃会员"}, timeout=60).raise_for_status()
        api = client(url, "13700000031")
        member = api.post("/members", json={"name": "崩溃会员", "id_number": make_resident_id(
            "110101", date(1980, 1, 1), 5, "F")}).json()["id"]
        enrollment = api.post(f"/members/{member}/enrollments", json={"plan_code": ACCIDENT},
                              headers={"Idempotency-Key": "join-" + keys[0]})
        assert enrollment.status_code == 201, enrollment.text
        answers = []
        for key in keys:
            try:
                answers.append(top_up(api, member, key).status_code)
            except httpx.TransportError:
                answers.append(None)
                break
        assert answers == [201, 201, None]
        assert killed(process)
    # Restarted, it dies again: this time just after committing the retried third top-up.
    with serve(database_url, tmp_path, armed="api.top_up.after_commit=kill@1") as (url, process):
        api = client(url, "13700000031")
        try:
            top_up(api, member, keys[2])
            raise AssertionError("the server should have died after the commit")
        except httpx.TransportError:
            pass
        assert killed(process)
    # Restarted, it dies inside the leave (refunding the whole balance), before anything is stored.
    with serve(database_url, tmp_path, armed="api.leave_plan.after_action=kill@1") as (url, process):
        api = client(url, "13700000031")
        try:
            api.post(f"/enrollments/{enrollment.json()['id']}/leave", json={"bank_account": "6222020000000000044"},
                     headers={"Idempotency-Key": leave_key})
            raise AssertionError("the server should have died inside the leave")
        except httpx.TransportError:
            pass
        assert killed(process)
    # Restarted unarmed: the client replays every key; each books once.
    with serve(database_url, tmp_path) as (url, process):
        api = client(url, "13700000031")
        replies = [top_up(api, member, key) for key in keys]
        assert [r.status_code for r in replies] == [201] * 5
        assert [r.headers.get("Idempotent-Replayed") for r in replies] == ["true", "true", "true", None, None]
        left = api.post(f"/enrollments/{enrollment.json()['id']}/leave", json={"bank_account": "6222020000000000044"},
                        headers={"Idempotency-Key": leave_key})
        assert left.status_code == 200, left.text
        again = api.post(f"/enrollments/{enrollment.json()['id']}/leave", json={"bank_account": "6222020000000000044"},
                         headers={"Idempotency-Key": leave_key})
        assert again.headers.get("Idempotent-Replayed") == "true"

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as s:
            deposits = dict(tuple(r) for r in s.execute(text(
                "SELECT idempotency_key, COUNT(*) FROM ledger_transfers WHERE kind = 'deposit' GROUP BY idempotency_key")).all())
            refunds = s.execute(text(
                "SELECT amount, status FROM ledger_transfers WHERE kind = 'refund' ORDER BY id")).all()
            balance = s.scalar(text("SELECT a.credits_posted - a.debits_posted - a.debits_pending FROM members m "
                                    "JOIN ledger_accounts a ON a.id = m.ledger_account_id WHERE m.id = :m"), {"m": member})
            problems = check_after_restart(s)
    finally:
        engine.dispose()
    assert sorted(k.rsplit(":", 1)[-1] for k in deposits) == sorted(["join-" + keys[0], *keys])
    assert set(deposits.values()) == {1}  # one deposit per key, the join's included
    assert [tuple(r) for r in refunds] == [(900 + 5 * 1000, "pending"), (900 + 5 * 1000, "posted")]
    assert balance == 0
    assert problems == []


def test_a_web_top_up_resent_after_the_server_died_books_once(database_url: str, tmp_path: Path) -> None:
    """The top-up form carries its idempotency key; the browser resends it after the server died
    right after committing, and right before committing, the first time: one deposit each."""
    build_platform(Settings(mode="sandbox", database_url=database_url, data_dir=tmp_path / "data",
                            plans_dir=REPO / "plans")).engine.dispose()
    keys = [uuid.uuid4().hex, uuid.uuid4().hex]

    def page_top_up(url: str, member: int, key: str) -> httpx.Response:
        browser = web_login(SimpleNamespace(url=url), "13700000032", PASSWORD)
        return browser.post(f"/me/members/{member}/top-up", data={
            "amount": "10.00", "idempotency_key": key,
            "csrf_token": page_csrf(browser, f"/me/members/{member}/top-up")})

    for key, armed in zip(keys, ("web.top-up.after_commit=kill", "web.top-up.before_commit=kill"), strict=True):
        with serve(database_url, tmp_path, armed=armed) as (url, process):
            if key == keys[0]:
                httpx.post(url + "/api/v1/auth/register", json={"login": "13700000032", "password": PASSWORD,
                                                               "display_name": "网页会员"}, timeout=60).raise_for_status()
                member = client(url, "13700000032").post("/members", json={
                    "name": "网页会员", "id_number": make_resident_id("110101", date(1981, 2, 2), 6, "M")}).json()["id"]
            try:
                page_top_up(url, member, key)
                raise AssertionError("the server should have died")
            except httpx.TransportError:
                pass
            assert killed(process)
    with serve(database_url, tmp_path) as (url, process):
        for key in keys:
            assert page_top_up(url, member, key).status_code == 303
            assert page_top_up(url, member, key).status_code == 303  # a second resend changes nothing

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as s:
            deposits = s.execute(text("SELECT idempotency_key, amount FROM ledger_transfers WHERE kind = 'deposit' "
                                      "ORDER BY idempotency_key")).all()
            problems = check_after_restart(s)
    finally:
        engine.dispose()
    assert sorted(tuple(r) for r in deposits) == sorted((f"web-top-up-{key}", 1000) for key in keys)
    assert problems == []
