"""Fixtures for the custodian bank: certificates, a bank in-process, and a bank server process over mTLS.

``database_url`` (tests/conftest.py) gives each test a fresh SQLite file, and a fresh PostgreSQL
database when ``HUZHU_TEST_POSTGRES_URL`` is set, so every test here that uses it runs on both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from e2e.helpers import free_port
from huzhu.clock import CHINA_TZ, FixedClock
from huzhu.custody.bank_client import HttpBankConnector, mtls_context
from huzhu_bank.certs import CA, CLIENT, CertPaths, make_certs
from huzhu_bank.runtime import BankRuntime, start_bank
from huzhu_bank.service import BankSettings

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "HUZHU-CUSTODY-0001"


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return make_certs(tmp_path_factory.mktemp("certs"), now=datetime.now(CHINA_TZ))


@pytest.fixture
def bank_clock() -> FixedClock:
    return FixedClock(datetime(2016, 3, 1, 9, 0, tzinfo=CHINA_TZ))


@pytest.fixture
def bank(database_url: str, tmp_path: Path, bank_clock: FixedClock) -> Iterator[BankRuntime]:
    """The bank in this process (service-level tests), on a fresh database."""
    runtime = start_bank(BankSettings(database_url=database_url, key_path=tmp_path / "bank.pem"), clock=bank_clock)
    yield runtime
    runtime.engine.dispose()


class BankProcess:
    """``python -m huzhu_bank serve`` in a subprocess on a free loopback port."""

    def __init__(self, database_url: str, certs: CertPaths, workdir: Path) -> None:
        self.database_url = database_url
        self.certs = certs
        self.workdir = workdir
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.log = (self.workdir / "bank.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "huzhu_bank", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--db", self.database_url, "--certs", str(self.certs.directory),
             "--key", str(self.workdir / "bank-signing.pem")],
            cwd=self.workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        with self.client() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the bank exited: {(self.workdir / 'bank.log').read_text()[-3000:]}")
                try:
                    client.get("/v1/public-key").raise_for_status()
                    return
                except httpx.TransportError:
                    time.sleep(0.1)
        raise RuntimeError("the bank did not start within 30 s")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.log.close()

    def client(self, *, with_cert: bool = True) -> httpx.Client:
        """A raw HTTP client (for the sandbox endpoints and malformed requests)."""
        if with_cert:
            context = mtls_context(ca_file=str(self.certs.cert(CA)), cert_file=str(self.certs.cert(CLIENT)),
                                   key_file=str(self.certs.key(CLIENT)))
        else:
            import ssl

            context = ssl.create_default_context(cafile=str(self.certs.cert(CA)))
        return httpx.Client(base_url=self.url, verify=context, timeout=30)

    def connector(self) -> HttpBankConnector:
        return HttpBankConnector(self.url, ca_file=str(self.certs.cert(CA)), cert_file=str(self.certs.cert(CLIENT)),
                                 key_file=str(self.certs.key(CLIENT)))


@pytest.fixture
def bank_process(database_url: str, certs: CertPaths, tmp_path: Path) -> Iterator[BankProcess]:
    process = BankProcess(database_url, certs, tmp_path)
    process.start()
    yield process
    process.stop()
