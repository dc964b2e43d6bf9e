"""Login protection that cannot be turned against the owner.

Five wrong passwords used to lock an account for 15 minutes — its owner too — and anyone could
renew the lock forever. Now the guessing *address* backs off (1 s, 2 s, 4 s …), and the *login*
asks for a step-up proof of work after five failures, one bit harder per further failure (capped):
the owner, from their own address, solves one challenge and is in, whatever the guesser does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from e2e.helpers import MEMBER_PASSWORD, LiveServer
from huzhu.accounts import challenge
from huzhu.accounts.models import LoginThrottle
from huzhu.accounts.service import _login_key, address_wait
from huzhu.clock import FixedClock

pytestmark = pytest.mark.e2e

LOGIN = "13700000001"
ATTACKER, OWNER = "10.0.0.66", "10.0.0.7"


def attempt(live: LiveServer, address: str, password: str, *, token: str | None = None,
            solution: str | None = None) -> httpx.Response:
    form = {"username": LOGIN, "password": password}
    if token is not None:
        form |= {"challenge": token, "solution": solution or ""}
    # The test server trusts X-Forwarded-For from loopback, as behind the production reverse proxy.
    return live.client().post("/auth/token", data=form, headers={"X-Forwarded-For": address})


def challenge_of(response: httpx.Response) -> tuple[str, int]:
    assert response.status_code == 401, response.text
    problem = response.json()
    assert problem["code"] == "accounts.challenge_required", problem
    details = problem["details"]
    assert details["algorithm"] == "sha256-leading-zero-bits"
    return details["challenge"], details["difficulty"]


@pytest.fixture
def wall(live: LiveServer) -> FixedClock:
    clock = FixedClock(datetime.now(UTC))
    live.platform.wall_clock = clock
    return clock


def test_the_guesser_pays_and_the_owner_gets_in(live: LiveServer, wall: FixedClock) -> None:
    assert live.client().post("/auth/register", json={"login": LOGIN, "password": MEMBER_PASSWORD,
                                                      "display_name": "本人"}).status_code == 201
    # Five free wrong guesses, then the login asks for work and the guesser's address backs off.
    for _ in range(5):
        assert attempt(live, ATTACKER, "guess-pass-1").json()["code"] == "accounts.wrong_credentials"
    token, bits = challenge_of(attempt(live, ATTACKER, "guess-pass-1"))
    assert bits == challenge.BASE_BITS
    difficulties = [bits]
    for n in range(4):
        answer = attempt(live, ATTACKER, "guess-pass-1", token=token, solution=challenge.solve(token, bits))
        assert answer.status_code == 401 and answer.json()["code"] == "accounts.wrong_credentials"
        waiting = attempt(live, ATTACKER, "guess-pass-1")  # the address must wait first
        assert waiting.status_code == 429 and int(waiting.headers["retry-after"]) == 2 ** n
        wall.advance(timedelta(seconds=2 ** n))
        token, bits = challenge_of(attempt(live, ATTACKER, "guess-pass-1"))
        difficulties.append(bits)
    assert difficulties == [16, 17, 18, 19, 20]  # each failure doubles the guesser's work ...
    # ... and a used challenge cannot be used again.
    used = challenge.solve(token, bits)
    wall.advance(timedelta(seconds=30))
    assert attempt(live, ATTACKER, "guess-pass-1", token=token, solution=used).json()["code"] == \
        "accounts.wrong_credentials"
    wall.advance(timedelta(seconds=60))
    challenge_of(attempt(live, ATTACKER, MEMBER_PASSWORD, token=token, solution=used))

    # The owner, meanwhile, from their own address: never a 429, never a lock. One challenge (the
    # login's current difficulty, at most MAX_BITS), the right password, and in.
    first = attempt(live, OWNER, MEMBER_PASSWORD)
    token, bits = challenge_of(first)
    assert bits <= challenge.MAX_BITS
    answer = attempt(live, OWNER, MEMBER_PASSWORD, token=token, solution=challenge.solve(token, bits))
    assert answer.status_code == 200, answer.text
    assert live.client(answer.json()["access_token"]).get("/me").status_code == 200
    # Success forgets the login's failures: the next login needs no challenge.
    assert attempt(live, OWNER, MEMBER_PASSWORD).status_code == 200
    # A wrong challenge solution is not a way in either.
    for _ in range(5):
        attempt(live, ATTACKER, "guess-pass-1")
        wall.advance(timedelta(minutes=20))
    token, bits = challenge_of(attempt(live, OWNER, MEMBER_PASSWORD))
    challenge_of(attempt(live, OWNER, MEMBER_PASSWORD, token=token, solution="not-a-solution"))
    challenge_of(attempt(live, OWNER, MEMBER_PASSWORD, token=token[:-2] + "xx", solution="1"))


def test_the_counts_age_out_and_the_work_is_capped(live: LiveServer, wall: FixedClock) -> None:
    assert live.client().post("/auth/register", json={"login": LOGIN, "password": MEMBER_PASSWORD,
                                                      "display_name": "本人"}).status_code == 201
    for n in range(7):  # a guesser spread over many addresses: the login's count is the same
        answer = attempt(live, f"10.0.1.{n}", "guess-pass-1")
        if n >= 5:  # an attempt without the challenge it needs counts nothing: solve it
            token, bits = challenge_of(answer)
            attempt(live, f"10.0.1.{n}", "guess-pass-1", token=token, solution=challenge.solve(token, bits))
    _token, bits = challenge_of(attempt(live, OWNER, MEMBER_PASSWORD))
    assert bits == challenge.BASE_BITS + 2
    with live.platform.factory() as s:
        row = s.scalar(select(LoginThrottle).where(LoginThrottle.key == _login_key(s, LOGIN)))
        assert s.scalar(select(LoginThrottle).where(LoginThrottle.key.contains(LOGIN))) is None  # no phone in clear
        assert row is not None and row.failures == 7 and row.next_attempt_at is None  # a login never waits
    wall.advance(timedelta(hours=25))  # a day without failures: forgotten
    assert attempt(live, OWNER, MEMBER_PASSWORD).status_code == 200
    assert challenge.required_bits(10_000) == challenge.MAX_BITS
    assert [address_wait(n).total_seconds() for n in (5, 6, 7, 10)] == [0, 1, 2, 16]
    assert address_wait(10_000) == timedelta(minutes=15)


def test_an_unknown_login_is_treated_alike(live: LiveServer, wall: FixedClock) -> None:
    """The same answers whether or not the account exists: nothing tells a guesser which logins are real."""
    for _ in range(5):
        assert attempt(live, ATTACKER, "guess-pass-1").json()["code"] == "accounts.wrong_credentials"
    token, bits = challenge_of(attempt(live, OWNER, "guess-pass-1"))
    answer = attempt(live, OWNER, "guess-pass-1", token=token, solution=challenge.solve(token, bits))
    assert answer.json()["code"] == "accounts.wrong_credentials"
