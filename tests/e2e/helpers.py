"""Helpers for the API tests: a real uvicorn server, staff accounts, clients that log in again."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from huzhu.accounts.service import register_account
from huzhu.app import create_app, server_options
from huzhu.platform import Platform

PASSWORD = "e2e-pass-2016"
MEMBER_PASSWORD = "member-pass-1"


class LoginAuth(httpx.Auth):
    """Bearer auth that logs in again when the token has expired (the sandbox clock jumps days)."""

    def __init__(self, base_url: str, login: str, password: str) -> None:
        self.base_url, self.login, self.password = base_url, login, password
        self.token: str | None = None

    def fetch(self) -> str:
        with httpx.Client(base_url=self.base_url, timeout=30) as c:
            r = c.post("/api/v1/auth/token", data={"username": self.login, "password": self.password})
            assert r.status_code == 200, r.text
            self.token = r.json()["access_token"]
            return self.token

    def auth_flow(self, request: httpx.Request):  # noqa: ANN201
        request.headers["Authorization"] = f"Bearer {self.token or self.fetch()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.fetch()}"
            yield request

def free_port() -> int:
    span = os.environ.get("HUZHU_TEST_FREE_PORTS")  # "LOW-HIGH": a run that must keep to given ports
    if span:
        return port_in(span)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in(span: str) -> int:
    """The first port of ``LOW-HIGH`` nobody listens on."""
    low, high = (int(part) for part in span.split("-"))
    for port in range(low, high + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {span}")


@dataclass
class LiveServer:
    url: str
    platform: Platform
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


def start_server(platform: Platform) -> LiveServer:
    port = free_port()
    config = uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="off", **server_options())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return LiveServer(url=f"http://127.0.0.1:{port}", platform=platform, server=server, thread=thread)


def create_staff(platform: Platform, role: str, login: str, name: str) -> int:
    """Staff accounts are made by `huzhu users create`, i.e. by the service, not over HTTP."""
    with platform.session() as session:
        return register_account(session, login=login, password=PASSWORD, display_name=name, role=role,
                                now=platform.clock.now()).id


def login(live: LiveServer, login_name: str, password: str = PASSWORD) -> str:
    return LoginAuth(live.url, login_name, password).fetch()


def actor(live: LiveServer, login_name: str, password: str = PASSWORD) -> httpx.Client:
    """A client that stays logged in as ``login_name``."""
    return httpx.Client(base_url=live.url + "/api/v1", auth=LoginAuth(live.url, login_name, password), timeout=30)


CSRF_IN_PAGE = re.compile(r'name="csrf_token" value="([^"]+)"')


def page_csrf(client: httpx.Client, path: str = "/login") -> str:
    """The CSRF token a page hands its forms (read from the page, as a browser's form has it)."""
    response = client.get(path, headers={"Accept": "text/html"})
    found = CSRF_IN_PAGE.search(response.text)
    assert found, f"no CSRF token on {path}: {response.status_code}"
    return found.group(1)


def web_client(live: LiveServer) -> httpx.Client:
    """A client that uses the pages as a browser does (cookies kept, HTML asked for)."""
    return httpx.Client(base_url=live.url, timeout=30, headers={"Accept": "text/html"}, follow_redirects=False)


def web_login(live: LiveServer, login_name: str, password: str = PASSWORD) -> httpx.Client:
    """A browser-like client logged in through the login form (its session cookie set by the server)."""
    client = web_client(live)
    response = client.post("/login", data={"login": login_name, "password": password,
                                           "csrf_token": page_csrf(client, "/login")})
    assert response.status_code == 303, response.text[:300]
    return client


HUZHU = Path(sys.executable).with_name("huzhu")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class ServedProcess:
    """``huzhu serve`` in its own process, as an operator starts it."""

    url: str
    process: subprocess.Popen
    log: Path

    def status(self) -> dict[str, str]:
        """The server process's /proc status (VmRSS, VmHWM …)."""
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    def peak_rss_kib(self) -> int:
        return int(self.status()["VmHWM"].split()[0])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path, *, path: str = "/healthz") -> None:
    """Poll ``url + path`` until it answers 200; fail with the server's log if it dies or takes a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "huzhu serve did not become ready"
        time.sleep(0.2)


@contextmanager
def served(database_url: str, folder: Path, **env: str) -> Iterator[ServedProcess]:
    """Start ``huzhu serve`` (sandbox unless ``HUZHU_MODE`` says otherwise) and wait until it is ready."""
    environment = {**os.environ, "HUZHU_DATABASE_URL": database_url, "HUZHU_DATA_DIR": str(folder / "data"),
                   "HUZHU_PLANS_DIR": str(REPO / "plans"), "HUZHU_MODE": "sandbox", **env,
                   # This checkout's code, whichever checkout the `huzhu` script was installed from.
                   "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    port = free_port()
    log = folder / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(HUZHU), "serve", "--port", str(port)], env=environment, cwd=folder,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        yield ServedProcess(url=url, process=process, log=log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
