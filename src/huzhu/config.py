"""Settings from the environment (prefix ``HUZHU_``), validated once.

Production is the default: the sandbox (its settable clock, its demo) must be asked for with
``HUZHU_MODE=sandbox``. Secrets are ``SecretStr`` (shown as ``**********`` in any repr), and a
refusal never echoes the values it was given (``hide_input_in_errors``): a start-up refused for a
short key once printed the settings, key included.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-sandbox-secret"
DEFAULT_ID_NUMBER_KEY = "change-me-sandbox-id-number-key"
DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUZHU_", env_file=".env", extra="ignore",
                                      hide_input_in_errors=True)

    mode: Literal["sandbox", "production"] = "production"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    plans_dir: Path | None = None
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    # Seals resident ID numbers at rest and keys their digests (identity/sealing.py). Changing it
    # makes the stored numbers unreadable: keep it with the database's backups, apart from them.
    id_number_key: SecretStr = SecretStr(DEFAULT_ID_NUMBER_KEY)
    # The sealing keyring (huzhu/sealing/keyring.py): later keys added by `huzhu keys rotate`. Its
    # first key is derived from id_number_key. Default <data_dir>/keyring.json; never in a backup.
    keyring_file: Path | None = None
    # The root of the keyring's first key (k0) and of the lookup digests (phones). Unset, it is
    # id_number_key; set it to that value before `huzhu db rekey-id-numbers`, so rekeying the ID
    # numbers leaves the sealed personal data and the phone digests as they are.
    seal_key: SecretStr | None = None
    # Request bodies are capped at the edge as they stream in (http/limits.py): JSON and plain
    # forms at max_body_bytes; uploads at max_upload_bytes per file (one per API request, up to
    # max_upload_files per web form) plus max_body_bytes for the other fields.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_upload_files: int = Field(default=5, ge=1, le=20)
    # Stored responses to Idempotency-Key requests are kept this long, then purged
    # (huzhu maintenance purge); the ledger keeps its transfer keys forever.
    idempotency_retention_days: int = Field(default=30, ge=1, le=3650)
    # Cookies marked Secure (sent over HTTPS only): on in production unless set.
    cookie_secure: bool | None = None
    # The public log (docs/public-log.md): its origin line, its Ed25519 signer key (C2SP note key
    # text; when unset, <data_dir>/log-signing.key is made on first start) and the witnesses asked
    # to cosign each checkpoint, each "<witness verifier key> <submission URL prefix>".
    log_origin: str = Field(default="huzhu.example/log", min_length=1, max_length=200, pattern=r"^[!-~]+$")
    log_signing_key: SecretStr | None = None
    log_witnesses: list[str] = Field(default_factory=list)
    log_witness_tls: str = ""  # "<CA file> <client cert> <client key>" for https witnesses (the bank's mTLS)
    # From this business date on, runs hand out leftover fen by keyed pseudonym (rule 2, every fen
    # provable); earlier runs keep rule 1. Unset: the date published with rule 2 (huzhu_verify.leftover).
    leftover_rule_v2_from: date | None = None
    # The custodian bank (docs/custodian.md): "" the legacy simulation, "local" the sandbox bank in
    # this process (its own database), or the bank's https:// URL over mutual TLS.
    custody_bank: str = ""
    custody_bank_database_url: str = ""
    custody_bank_certs: Path | None = None

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'huzhu.sqlite').as_posix()}"
        if self.mode == "production":
            for name, secret, default in (("HUZHU_SECRET_KEY", self.secret_key, DEFAULT_SECRET),
                                          ("HUZHU_ID_NUMBER_KEY", self.id_number_key, DEFAULT_ID_NUMBER_KEY),
                                          ("HUZHU_SEAL_KEY", self.seal_key or self.id_number_key,
                                           DEFAULT_ID_NUMBER_KEY)):
                value = secret.get_secret_value()
                if value == default or len(value) < 32:
                    raise ValueError(f"{name} must be set to a random value of at least 32 characters in "
                                     "production (or set HUZHU_MODE=sandbox for the sandbox)")
        return self

    @property
    def sandbox(self) -> bool:
        return self.mode == "sandbox"

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.mode == "production"

    @property
    def seal_root(self) -> str:
        return (self.seal_key or self.id_number_key).get_secret_value()

    @property
    def resolved_keyring_file(self) -> Path:
        return self.keyring_file if self.keyring_file is not None else self.data_dir / "keyring.json"

    @property
    def resolved_plans_dir(self) -> Path:
        if self.plans_dir is not None:
            return self.plans_dir
        return default_plans_dir()


def default_plans_dir() -> Path:
    """The plan files ship in the repository's ``plans/`` folder (and inside the package when installed)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "plans", here.parent / "plans_data"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "plans"


@lru_cache
def get_settings() -> Settings:
    return Settings()
