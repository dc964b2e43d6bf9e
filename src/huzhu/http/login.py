"""Logging in, for both adapters: the API's token endpoint and the web login form.

Each step in its own unit of work so that the slow password check holds no transaction and a
failed attempt is counted (committed) although the request then fails: read (refuse a locked-out
login), check the password with no session open, write (count the failure, or clear it and
upgrade an outdated hash). Times are the wall clock: moving the sandbox clock must not lift a lockout.
"""

from __future__ import annotations

from dataclasses import dataclass

from huzhu.accounts import service as accounts
from huzhu.accounts.errors import AccountError
from huzhu.accounts.models import Role
from huzhu.db import unit_of_work
from huzhu.platform import Platform


@dataclass(frozen=True)
class SignedIn:
    account_id: int
    role: Role


def log_in(platform: Platform, *, login: str, password: str, client_ip: str | None) -> SignedIn:
    """The account for ``login`` + ``password``; raises ``InvalidCredentials`` (401) or ``TooManyAttempts`` (429)."""
    now = platform.wall_clock.now()
    with platform.read_factory() as session:
        attempt = accounts.begin_login(session, login=login, client_ip=client_ip, now=now)
    if not accounts.password_matches(attempt, password):
        with unit_of_work(platform.factory) as session:
            accounts.record_login_failure(session, attempt, now=now)
        raise accounts.InvalidCredentials(AccountError.WRONG_CREDENTIALS)
    with unit_of_work(platform.factory) as session:
        account = accounts.record_login_success(session, attempt, password=password)
        return SignedIn(account_id=account.id, role=account.role)
