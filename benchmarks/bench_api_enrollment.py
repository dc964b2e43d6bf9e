"""The launch surge over real HTTP: concurrent clients register, add a member, top up and join the
accident plan against `uvicorn huzhu.app:create_app` on PostgreSQL; then the public case list
throughput. Loopback only, bounded in time.

    .venv/bin/python benchmarks/bench_api_enrollment.py --seconds 60 --concurrency 8,64 --workers 2 \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres

Each enrollment is four requests: POST /auth/register (Argon2id hash, production cost),
POST /members, POST /members/{id}/top-ups and POST /members/{id}/enrollments (both with an
Idempotency-Key). The load comes from wrk running benchmarks/surge.lua (C and LuaJIT: the load
generator barely competes for the two cores); without wrk, from an asyncio httpx client. A fresh
database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from huzhu.app import build_platform
from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.config import Settings
from huzhu.demo import replay_article
from huzhu.identity import make_resident_id
from huzhu.sandbox.clock import SandboxDbClock

REPO = Path(__file__).resolve().parents[1]
PLAN = "comprehensive-accident"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_database(admin_url: str) -> tuple[str, str]:
    url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"huzhu_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def drop_database(admin_url: str, name: str) -> None:
    engine = create_engine(make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1)),
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def identity(n: int) -> tuple[str, str]:
    birth = date(1960, 1, 1) + timedelta(days=n // 100)
    return f"15{n:09d}", make_resident_id("110101", birth, n % 100, "FM"[n % 2])


async def enroll(client: httpx.AsyncClient, n: int) -> list[float]:
    phone, id_number = identity(n)
    times = []
    start = time.perf_counter()
    r = await client.post("/api/v1/auth/register", json={"login": phone, "password": "surge-pass-2016",
                                                         "display_name": f"会员{n}"})
    r.raise_for_status()
    times.append(time.perf_counter() - start)
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    start = time.perf_counter()
    r = await client.post("/api/v1/members", json={"name": f"会员{n}", "id_number": id_number}, headers=headers)
    r.raise_for_status()
    times.append(time.perf_counter() - start)
    member = r.json()["id"]
    for path, body in ((f"/api/v1/members/{member}/top-ups", {"amount": "9.00"}),
                       (f"/api/v1/members/{member}/enrollments", {"plan_code": PLAN})):
        start = time.perf_counter()
        r = await client.post(path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        r.raise_for_status()
        times.append(time.perf_counter() - start)
    return times


async def surge(base: str, seconds: float, concurrency: int) -> dict[str, object]:
    counter = iter(range(10**8))
    flows: list[float] = []
    requests: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                n = next(counter)
                started = time.perf_counter()
                try:
                    times = await enroll(client, n)
                except Exception as exc:  # noqa: BLE001 - count every failure
                    errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                    continue
                flows.append(time.perf_counter() - started)
                requests.extend(times)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"flows": flows, "requests": requests, "errors": errors, "elapsed": elapsed}


async def case_list(base: str, seconds: float, concurrency: int) -> dict[str, object]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                r = await client.get("/api/v1/cases", params={"limit": 20})
                if r.status_code != 200:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def run_wrk(base: str, seconds: float) -> dict[str, str] | None:
    """The case list again with wrk (C, from Debian), whose client does not compete with Python for
    the two cores the way the asyncio client above does. Skipped when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{max(int(seconds), 1)}s", f"{base}/api/v1/cases"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    latency = re.search(r"Latency\s+(\S+)\s+\S+\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": f"{float(rps.group(1)):,.0f}" if rps else "?",
            "latency": f"{latency.group(1)} / {latency.group(2)}" if latency else "?",
            "non2xx": non2xx.group(1) if non2xx else "0"}


def wrk_surge(base: str, seconds: float, concurrency: int, offset: int) -> dict[str, str]:
    """The surge with wrk: one connection per wrk thread, each a client after client (surge.lua)."""
    out = subprocess.run(
        ["wrk", f"-t{concurrency}", f"-c{concurrency}", f"-d{max(int(seconds), 1)}s", "--timeout", "10s",
         "-s", str(REPO / "benchmarks" / "surge.lua"), base, "--", PLAN, str(offset)],
        capture_output=True, text=True, timeout=seconds + 120,
    ).stdout
    found = dict(re.findall(r"(\w+)=([\d.]+)", " ".join(line for line in out.splitlines() if line.startswith("SURGE"))))
    error = next((line[len("SURGE first_error "):] for line in out.splitlines() if line.startswith("SURGE first_error")), "")
    if "flows" not in found:
        raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
    return {**found, "first_error": error}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("HUZHU_TEST_POSTGRES_URL",
                                                            "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--case-list-seconds", type=float, default=15)
    parser.add_argument("--concurrency", default="8,64",
                        help="concurrent clients; a comma-separated list runs one surge per value")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    console = Console()

    url, name = create_database(args.postgres)
    data_dir = Path(tempfile.mkdtemp(prefix="huzhu-bench-"))
    server = None
    try:
        settings = Settings(mode="sandbox", database_url=url, data_dir=data_dir, plans_dir=REPO / "plans")
        clock = FixedClock(datetime_at("2015-03-01"))
        platform = build_platform(settings, clock=clock)
        replay_article(platform, clock, log=lambda _m: None)  # two public cases to list
        SandboxDbClock(platform.factory).set(datetime_at("2016-03-18", 9))  # the driving plan's launch morning
        platform.engine.dispose()

        port = free_port()
        env = {**os.environ, "HUZHU_DATABASE_URL": url, "HUZHU_MODE": "sandbox", "HUZHU_DATA_DIR": str(data_dir),
               "HUZHU_PLANS_DIR": str(REPO / "plans"), "HUZHU_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "huzhu.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        levels = [int(c) for c in args.concurrency.split(",")]
        use_wrk = shutil.which("wrk") is not None
        console.print(f"server up on {base} ({args.workers} workers); surge for {args.seconds:.0f} s at "
                      f"{levels} concurrent clients with {'wrk' if use_wrk else 'httpx'}")
        surges = []
        for n, level in enumerate(levels):
            if use_wrk:
                surges.append((level, wrk_surge(base, args.seconds, level, offset=n * 3_000_000)))
            else:
                surges.append((level, asyncio.run(surge(base, args.seconds, level))))
        listing = None if use_wrk else asyncio.run(case_list(base, args.case_list_seconds, 32))
        wrk_summary = run_wrk(base, args.case_list_seconds)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_database(args.postgres, name)

    table = Table(title="huzhu API launch surge (PostgreSQL, loopback, 2 uvicorn workers)")
    for column in ("measure", "value"):
        table.add_column(column)
    for level, result in surges:
        if "flows" in result and isinstance(result["flows"], str):  # wrk
            seconds = float(result["seconds"])
            table.add_row(f"[{level} clients, wrk] completed enrollments", f"{int(result['flows']):,}")
            table.add_row(f"[{level} clients, wrk] enrollments / s", f"{int(result['flows']) / seconds:.1f}")
            table.add_row(f"[{level} clients, wrk] requests / s", f"{int(result['requests']) / seconds:.1f}")
            table.add_row(f"[{level} clients, wrk] request p50 / p90 / p99 (ms)",
                          f"{float(result['p50']):.0f} / {float(result['p90']):.0f} / {float(result['p99']):.0f}")
            table.add_row(f"[{level} clients, wrk] errors (HTTP / socket)",
                          f"{result['errors']} / {result['socket_errors']}")
            if result["first_error"]:
                console.print(f"first error at {level} clients: {result['first_error']}")
        else:
            flows, reqs, errors = result["flows"], result["requests"], result["errors"]
            table.add_row(f"[{level} clients, httpx] completed enrollments", f"{len(flows):,}")
            table.add_row(f"[{level} clients, httpx] enrollments / s", f"{len(flows) / result['elapsed']:.1f}")
            table.add_row(f"[{level} clients, httpx] request p50 / p99 (ms)",
                          f"{pct(reqs, 0.5):.0f} / {pct(reqs, 0.99):.0f}")
            table.add_row(f"[{level} clients, httpx] errors", str(len(errors)))
            if errors:
                console.print("first errors:", sorted(set(errors))[:5])
    if listing is not None:
        lat = listing["latencies"]
        table.add_row("case list req / s (httpx, 32 clients)", f"{len(lat) / listing['elapsed']:.0f}")
        table.add_row("case list p50 / p99 (ms, httpx)", f"{pct(lat, 0.5):.1f} / {pct(lat, 0.99):.1f}")
        table.add_row("case list errors", str(listing["errors"]))
    if wrk_summary:
        table.add_row("case list req / s (wrk -t2 -c64)", wrk_summary["rps"])
        table.add_row("case list latency avg / max (wrk)", wrk_summary["latency"])
        table.add_row("case list non-2xx (wrk)", wrk_summary["non2xx"])
    console.print(table)


def datetime_at(day: str, hour: int = 10):  # noqa: ANN201
    from datetime import datetime

    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ)


if __name__ == "__main__":
    main()
