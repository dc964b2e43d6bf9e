"""A crowd of writers at once (more than the server's thread pool): every request is answered,
none with a 5xx, and every sign-up and top-up lands exactly once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import date, timedelta

import httpx
from sqlalchemy import func, select

from e2e.helpers import LiveServer
from huzhu.accounts.models import Account
from huzhu.identity import make_resident_id
from huzhu.ledger.invariants import check_ledger
from huzhu.members.models import Member

CROWD = 80  # the thread pool has 40 threads


async def _one(client: httpx.AsyncClient, n: int) -> list[int]:
    statuses = []
    r = await client.post("/auth/register", json={"login": f"139{n:08d}", "password": "crowd-pass-1",
                                                   "display_name": f"会员{n}"})
    statuses.append(r.status_code)
    if r.status_code != 201:
        return statuses
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    id_number = make_resident_id("110101", date(1980, 1, 1) + timedelta(days=n), n % 100, "M")
    r = await client.post("/members", json={"name": f"会员{n}", "id_number": id_number, "relationship": "self"},
                          headers=headers)
    statuses.append(r.status_code)
    if r.status_code == 201:
        r = await client.post(f"/members/{r.json()['id']}/top-ups", json={"amount": "12.00"},
                              headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        statuses.append(r.status_code)
    return statuses


def test_a_crowd_of_writers_is_served_without_errors(live: LiveServer) -> None:
    results: list[list[int]] = []

    async def crowd() -> None:
        async with httpx.AsyncClient(base_url=live.url + "/api/v1", timeout=120,
                                     limits=httpx.Limits(max_connections=CROWD)) as client:
            results.extend(await asyncio.gather(*(_one(client, n) for n in range(CROWD))))

    thread = threading.Thread(target=lambda: asyncio.run(crowd()))
    thread.start()
    thread.join(timeout=300)
    statuses = [s for r in results for s in r]
    assert len(results) == CROWD
    assert all(s < 500 for s in statuses), statuses
    assert all(r == [201, 201, 201] for r in results), results
    with live.platform.read_factory() as s:
        assert s.scalar(select(func.count()).select_from(Account)) == CROWD
        assert s.scalar(select(func.count()).select_from(Member)) == CROWD
        assert check_ledger(s) == []
