"""A real uvicorn server on a free loopback port over a fresh database (SQLite, and PostgreSQL when
the test run has one: every browser test runs on each), and the system Chromium.

Staff accounts, a small existing pool of members and one other member (who will object) are put in
the database directly through the services; everything else happens in the browser.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from databases import BACKENDS, fresh_database
from e2e.helpers import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HUZHU_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "artifacts" / "screenshots"
PASSWORD = "test-pass-2016"
START = datetime.fromisoformat("2016-02-01T10:00:00+08:00")

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs Debian's chromium
    if os.environ.get("HUZHU_REQUIRE_BROWSER"):
        raise RuntimeError(f"HUZHU_REQUIRE_BROWSER is set but there is no Chromium at {CHROMIUM}")
    pytest.skip(f"no system Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, expect, sync_playwright  # noqa: E402

# Assertions wait as long as actions do (Playwright's own default is 5 s): CI runs another worker beside these.
expect.set_options(timeout=20_000)


@dataclass
class Server:
    url: str
    platform: object
    staff: dict[str, str]




@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"web-{request.param}")
    with fresh_database(request.param, tmp) as database_url:
        yield from _serve(tmp, database_url)


def _serve(tmp: Path, database_url: str) -> Iterator[Server]:

    from huzhu.accounts import service as accounts
    from huzhu.app import build_platform, create_app
    from huzhu.config import Settings
    from huzhu.demo import write_pool_csv
    from huzhu.identity import make_resident_id
    from huzhu.members import service as members
    from huzhu.members.importer import import_members

    settings = Settings(mode="sandbox", database_url=database_url, data_dir=tmp / "data",
                        plans_dir=REPO / "plans", max_upload_bytes=200_000)
    platform = build_platform(settings)
    platform.clock.set(START)
    pool = tmp / "pool.csv"
    write_pool_csv(pool, count=300)
    staff = {"investigator": "investigator@huzhu.example", "reviewer": "reviewer@huzhu.example",
             "reviewer2": "reviewer2@huzhu.example", "admin": "admin@huzhu.example"}
    with platform.session() as s:
        import_members(s, path=pool, plans=platform.plans, now=START)
        for key, login in staff.items():
            accounts.register_account(s, login=login, password=PASSWORD, display_name=f"测试{key}",
                                     role="reviewer" if key == "reviewer2" else key, now=START)
        objector = accounts.register_account(s, login="13800000003", password=PASSWORD, display_name="热心会员",
                                            now=START)
        member = members.add_member(s, account_id=objector.id, name="林晓", now=START,
                                    id_number=make_resident_id("440106", date(1985, 3, 3), 7, "F"))
        members.join_plan(s, platform.custodian, plans=platform.plans, member=member,
                          plan_code="comprehensive-accident", now=START, idempotency_key="browser-objector")

    try:
        with serve_in_thread(create_app(platform)) as url:
            yield Server(url=url, platform=platform, staff=staff)
    finally:  # after the server has stopped
        platform.engine.dispose()


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields its address."""
    import uvicorn

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                       access_log=False))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM,
                                      args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page, name: str) -> None:  # noqa: ANN001
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failure, say where every open page was and what it showed (CI keeps only the log)."""
    outcome = yield
    report = outcome.get_result()
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when != "call" or not report.failed or browser is None:
        return
    lines = []
    for n, context in enumerate(browser.contexts):
        for m, page in enumerate(context.pages):
            try:
                name = f"failed-{item.name}-{n}-{m}"
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
                text = page.locator("body").inner_text(timeout=2_000)
            except Exception as exc:  # noqa: BLE001 - the report must not hide the real failure
                text = f"(page unreadable: {exc})"
            lines.append(f"--- page {n}.{m}: {page.url}\n{text[:1500]}")
    report.sections.append(("open pages at failure", "\n".join(lines)))
