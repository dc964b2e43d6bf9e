"""Production mode: default secrets are refused at start-up, and the sandbox clock does not exist."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from huzhu.app import build_platform, create_app
from huzhu.clock import SystemClock
from huzhu.config import Settings

REPO = Path(__file__).resolve().parents[2]
HUZHU = Path(sys.executable).with_name("huzhu")


def test_production_refuses_the_default_secrets(database_url: str) -> None:
    with pytest.raises(ValidationError, match="HUZHU_SECRET_KEY"):
        Settings(mode="production", database_url=database_url)
    with pytest.raises(ValidationError, match="HUZHU_SECRET_KEY"):
        Settings(mode="production", database_url=database_url, secret_key="short")
    with pytest.raises(ValidationError, match="HUZHU_ID_NUMBER_KEY"):
        Settings(mode="production", database_url=database_url, secret_key="x" * 40)
    with pytest.raises(ValidationError, match="HUZHU_ID_NUMBER_KEY"):
        Settings(mode="production", database_url=database_url, secret_key="x" * 40, id_number_key="short")


def test_production_has_no_sandbox_clock(database_url: str, tmp_path: Path) -> None:
    settings = Settings(mode="production", database_url=database_url, secret_key="x" * 40, id_number_key="k" * 40,
                        data_dir=tmp_path,
                        plans_dir=REPO / "plans")
    platform = build_platform(settings)
    assert isinstance(platform.clock, SystemClock)
    app = create_app(platform)
    responses: list[httpx.Response] = []

    async def probe() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            responses.append(await client.get("/api/v1/sandbox/clock"))
            responses.append(await client.post("/api/v1/sandbox/clock", json={"advance": "P1D"}))
            responses.append(await client.get("/openapi.json"))

    thread = threading.Thread(target=lambda: asyncio.run(probe()))
    thread.start()
    thread.join()
    platform.engine.dispose()
    assert [r.status_code for r in responses[:2]] == [404, 404]
    assert not any(path.startswith("/api/v1/sandbox") for path in responses[2].json()["paths"])


def test_production_is_the_default_and_the_sandbox_must_be_asked_for(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    for name in ("HUZHU_MODE", "HUZHU_SECRET_KEY", "HUZHU_ID_NUMBER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file from the checkout
    with pytest.raises(ValidationError, match="HUZHU_SECRET_KEY"):
        Settings()
    production = Settings(secret_key="s" * 40, id_number_key="k" * 40)
    assert production.mode == "production" and not production.sandbox and production.secure_cookies
    sandbox = Settings(mode="sandbox")
    assert sandbox.sandbox and not sandbox.secure_cookies
    assert "k" * 40 not in repr(production) and "s" * 40 not in repr(production)


SECRET = "top-secret-signing-key-0123456789-ABCDEFG"
SHORT_KEY = "sealing-key-tail-QX7W"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "9"], ["demo"]])
def test_a_refused_start_up_prints_no_secret(command: list[str], database_url: str, tmp_path: Path) -> None:
    """A production start-up refused for a short key once printed the settings with the key's tail."""
    env = {**os.environ, "HUZHU_DATABASE_URL": database_url, "HUZHU_DATA_DIR": str(tmp_path),
           "HUZHU_SECRET_KEY": SECRET, "HUZHU_ID_NUMBER_KEY": SHORT_KEY,
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("HUZHU_MODE", None)  # production, by default
    result = subprocess.run([str(HUZHU), *command], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "HUZHU_ID_NUMBER_KEY must be set" in output
    for secret in (SECRET, SHORT_KEY):
        for piece in (secret, secret[-6:], secret[:8]):
            assert piece not in output, f"{piece!r} printed:\n{output}"
    assert "Traceback" not in output


def test_the_sandbox_serves_on_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from huzhu.cli import app
    from huzhu.config import get_settings

    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: started.append(options))

    def serve(*args: str) -> int:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, ["serve", *args], env={"HUZHU_MODE": "sandbox"}).exit_code
        finally:
            get_settings.cache_clear()

    assert serve("--host", "0.0.0.0") == 1 and not started
    assert serve() == 0 and started[-1]["host"] == "127.0.0.1"
    assert serve("--host", "0.0.0.0", "--allow-remote-sandbox") == 0 and started[-1]["host"] == "0.0.0.0"
    assert all(options["server_header"] is False for options in started)


def test_production_without_a_custodian_bank_moves_no_money(database_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process simulated custodian is the sandbox's: production with HUZHU_CUSTODY_BANK empty
    starts (pages and proofs read as ever) but refuses every money operation, saying what to set."""
    from datetime import date

    from typer.testing import CliRunner

    from huzhu.accounts.service import register_account
    from huzhu.cli import app as cli
    from huzhu.config import get_settings
    from huzhu.custody.errors import BankRequired
    from huzhu.custody.service import BankRequiredCustodian
    from huzhu.identity import make_resident_id
    from huzhu.jobs import run_jobs
    from huzhu.ledger.models import Transfer
    from huzhu.members import service as members

    settings = Settings(mode="production", database_url=database_url, secret_key="x" * 40, id_number_key="k" * 40,
                        data_dir=tmp_path, plans_dir=REPO / "plans")
    platform = build_platform(settings)
    try:
        assert isinstance(platform.custodian, BankRequiredCustodian) and platform.bank is None
        now = platform.clock.now()
        with platform.session() as s:
            owner = register_account(s, login="13900000001", password="pass-word-2016", display_name="会员", now=now)
            member = members.add_member(s, account_id=owner.id, name="张三", now=now,
                                        id_number=make_resident_id("110101", date(1980, 1, 1), 3, "M"))
        for attempt in ("top-up", "join"):
            with pytest.raises(BankRequired, match="set HUZHU_CUSTODY_BANK") as refused:
                with platform.session() as s:
                    member = s.merge(member)
                    if attempt == "top-up":
                        members.top_up(s, platform.custodian, plans=platform.plans, member=member, amount_fen=900,
                                       now=now, idempotency_key="prod-top-up")
                    else:
                        members.join_plan(s, platform.custodian, plans=platform.plans, member=member,
                                          plan_code="comprehensive-accident", now=now, idempotency_key="prod-join")
            assert refused.value.code.value == "custody.bank_required" and refused.value.status_code == 409
        with pytest.raises(BankRequired):
            run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=now)
        with platform.read_factory() as s:
            assert s.query(Transfer).count() == 0  # nothing moved, not even half
    finally:
        platform.engine.dispose()

    for name, value in {"HUZHU_MODE": "production", "HUZHU_DATABASE_URL": database_url,
                        "HUZHU_DATA_DIR": str(tmp_path), "HUZHU_PLANS_DIR": str(REPO / "plans"),
                        "HUZHU_SECRET_KEY": "x" * 40, "HUZHU_ID_NUMBER_KEY": "k" * 40, "HUZHU_CUSTODY_BANK": ""}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["jobs", "run"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "set HUZHU_CUSTODY_BANK" in " ".join(result.output.split()), result.output
