"""Which custodian bank the platform talks to, from the settings (see docs/custodian.md).

``HUZHU_CUSTODY_BANK``:

- ``""`` (default): no bank service; the legacy simulated custodian inside the platform's database.
- ``local`` (sandbox only): the sandbox bank in this process, with its own database
  (``HUZHU_CUSTODY_BANK_DATABASE_URL``, default ``data/bank.sqlite``), reached through
  :class:`~huzhu.custody.local_bank.LocalBankConnector`: the same XML messages as over HTTP.
- ``https://…``: the bank's API over mutual TLS with the certificates ``huzhu custodian certs``
  wrote to ``HUZHU_CUSTODY_BANK_CERTS`` (``ca.pem``, ``client.pem``, ``client.key``).
"""

from __future__ import annotations

from dataclasses import dataclass

from huzhu.clock import Clock
from huzhu.config import Settings
from huzhu.custody.bank_client import BankConnector, HttpBankConnector
from huzhu.custody.local_bank import HttpSandboxBank, LocalBankConnector, LocalSandboxBank, SandboxBank
from huzhu_bank.certs import CA, CLIENT, CertPaths
from huzhu_bank.runtime import BankRuntime, start_bank
from huzhu_bank.service import BankSettings


@dataclass
class BankLink:
    connector: BankConnector
    sandbox: SandboxBank | None  # the sandbox levers (incoming transfers…); None for a real bank
    runtime: BankRuntime | None = None  # the in-process bank, when local

    def close(self) -> None:
        if self.runtime is not None:
            self.runtime.engine.dispose()
        if isinstance(self.connector, HttpBankConnector):
            self.connector.close()


def local_link(runtime: BankRuntime) -> BankLink:
    return BankLink(LocalBankConnector(runtime), LocalSandboxBank(runtime), runtime)


def http_link(url: str, certs: CertPaths, *, sandbox: bool) -> BankLink:
    connector = HttpBankConnector(url, ca_file=str(certs.cert(CA)), cert_file=str(certs.cert(CLIENT)),
                                  key_file=str(certs.key(CLIENT)))
    return BankLink(connector, HttpSandboxBank(connector) if sandbox else None)


def bank_link_from_settings(settings: Settings, *, clock: Clock) -> BankLink | None:
    choice = settings.custody_bank.strip()
    if not choice:
        return None
    if choice == "local":
        if not settings.sandbox:
            raise ValueError("HUZHU_CUSTODY_BANK=local runs the sandbox bank in-process: sandbox mode only")
        url = settings.custody_bank_database_url or f"sqlite:///{(settings.data_dir / 'bank.sqlite').as_posix()}"
        runtime = start_bank(BankSettings(database_url=url, key_path=settings.data_dir / "bank-signing-ed25519.pem",
                                          sandbox=True), clock=clock)
        return local_link(runtime)
    if not choice.startswith("https://"):
        raise ValueError("HUZHU_CUSTODY_BANK must be empty, 'local' or the bank's https:// URL")
    if settings.custody_bank_certs is None:
        raise ValueError("HUZHU_CUSTODY_BANK_CERTS must name the directory `huzhu custodian certs` wrote")
    return http_link(choice, CertPaths(settings.custody_bank_certs), sandbox=settings.sandbox)
