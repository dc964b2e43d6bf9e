"""The sealing keyring: one current key that seals, older keys that still open.

A sealed value is the text ``hz1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``: version, key id,
a random 96-bit nonce and the AES-256-GCM ciphertext, authenticated together with the header (a
value cannot be moved to another key id or version unnoticed). The key id stays readable so the
re-sealing job finds, with one indexed-free ``LIKE 'hz1.k0.%'`` scan per column, what an old key
still opens, and retiring a key can be refused while anything uses it.

Keys:

* ``k0`` is derived from ``HUZHU_SEAL_KEY``, which defaults to ``HUZHU_ID_NUMBER_KEY`` (already
  required in production), so a deployment seals from its first start without a new secret;
* later keys live in the keyring file (``HUZHU_KEYRING_FILE``, default ``<data dir>/keyring.json``,
  mode 0600; keep it out of the database's backups): ``{"current": "k1", "keys": {"k1": "<base64>"},
  "retired": ["k0"]}``. ``huzhu keys rotate`` adds a key and makes it current; a running server
  notices the file's change within two seconds (and at once when it meets an unknown key id).

Digests for lookups (a phone number at login) are HMAC-SHA-256 under a key derived from
the same root: they do not change when the sealing key rotates.

The keyring travels on the engine's dialect (``attach_keyring``), so the column type, which sees
only the dialect, needs no global; an engine built elsewhere falls back to the settings' keyring.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

VERSION = "hz1"
PREFIX = VERSION + "."
KEY_ID = re.compile(r"^k[0-9]{1,6}$")
NONCE_BYTES = 12
RELOAD_SECONDS = 2.0
_DIALECT_ATTR = "huzhu_keyring"


class SealError(Exception):
    """A sealed value or file that the configured keys cannot open (unknown key, or tampered)."""


def derive(secret: str, label: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), label.encode("utf-8"), hashlib.sha256).digest()


@dataclass
class KeyringFile:
    current: str | None
    keys: dict[str, bytes]
    retired: list[str]

    @classmethod
    def read(cls, path: Path) -> KeyringFile:
        if not path.is_file():
            return cls(None, {}, [])
        data = json.loads(path.read_text("utf-8"))
        keys = {kid: base64.b64decode(value) for kid, value in data.get("keys", {}).items()}
        for kid, key in keys.items():
            if not KEY_ID.match(kid) or len(key) != 32:
                raise SealError(f"keyring file {path}: key {kid!r} is not a 256-bit key with an id like k1")
        return cls(data.get("current"), keys, list(data.get("retired", [])))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"current": self.current,
                           "keys": {kid: base64.b64encode(key).decode("ascii") for kid, key in self.keys.items()},
                           "retired": self.retired}, indent=2)
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


class Keyring:
    def __init__(self, *, root_secret: str, file: Path | None = None) -> None:
        self._root_secret = root_secret
        self.file = file
        self._digest_key = derive(root_secret, "huzhu lookup digest")
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._stamp: tuple[int, int] | None = None
        self._load()

    # ------------------------------------------------------------------ keys

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.file is None:
            return None
        try:
            stat = self.file.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _load(self) -> None:
        stored = KeyringFile.read(self.file) if self.file is not None else KeyringFile(None, {}, [])
        keys: dict[str, bytes] = {}
        if "k0" not in stored.retired:
            keys["k0"] = derive(self._root_secret, "huzhu seal k0")
        keys.update(stored.keys)
        current = stored.current or "k0"
        if current not in keys:
            raise SealError(f"the keyring's current key {current!r} is not in it")
        self._keys = keys
        self._aeads = {kid: AESGCM(key) for kid, key in keys.items()}
        self.current = current
        self._stamp = self._file_stamp()
        self._checked_at = time.monotonic()

    def refresh(self, *, force: bool = False) -> None:
        """Reload the keyring file if it changed (checked at most every two seconds unless forced)."""
        if self.file is None:
            return
        now = time.monotonic()
        if not force and now - self._checked_at < RELOAD_SECONDS:
            return
        with self._lock:
            self._checked_at = now
            if self._file_stamp() != self._stamp:
                self._load()

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def fingerprint(self, kid: str) -> str:
        """A public fingerprint of a key (to tell keys apart in a manifest without revealing them)."""
        return hmac.new(self._keys[kid], b"huzhu key fingerprint", hashlib.sha256).hexdigest()[:16]

    def key(self, kid: str) -> AESGCM:
        aead = self._aeads.get(kid)
        if aead is None:
            self.refresh(force=True)
            aead = self._aeads.get(kid)
        if aead is None:
            raise SealError(f"no key {kid!r} in the keyring (it was retired, or this is another deployment's data)")
        return aead

    # ------------------------------------------------------------------ values

    def seal(self, text: str, *, kid: str | None = None) -> str:
        self.refresh()
        kid = kid or self.current
        header = f"{PREFIX}{kid}."
        nonce = os.urandom(NONCE_BYTES)
        body = self.key(kid).encrypt(nonce, text.encode("utf-8"), header.encode("ascii"))
        return header + base64.urlsafe_b64encode(nonce + body).decode("ascii").rstrip("=")

    def unseal(self, token: str) -> str:
        kid, header, raw = split(token)
        try:
            return self.key(kid).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], header.encode("ascii")).decode("utf-8")
        except InvalidTag:
            raise SealError(f"a value sealed under {kid!r} does not open: wrong key or altered") from None

    def reseal(self, token: str) -> str:
        """The same plaintext under the current key (unchanged if it is already)."""
        if key_id_of(token) == self.current:
            return token
        return self.seal(self.unseal(token))

    def digest(self, purpose: str, value: str) -> str:
        """A keyed digest (64 hex characters) for lookups and uniqueness without the value."""
        return hmac.new(self._digest_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def new_key_id(self) -> str:
        stored = KeyringFile.read(self.file) if self.file is not None else KeyringFile(None, {}, [])
        used = {int(k[1:]) for k in [*self._keys, *stored.retired, "k0"]}
        return f"k{max(used) + 1}"


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX) and value.count(".") >= 2 and bool(KEY_ID.match(value.split(".", 2)[1]))


def key_id_of(token: str) -> str:
    return split(token)[0]


def split(token: str) -> tuple[str, str, bytes]:
    if not is_sealed(token):
        raise SealError("not a sealed value")
    _, kid, body = token.split(".", 2)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise SealError("a sealed value is damaged") from None
    return kid, f"{PREFIX}{kid}.", raw


def like_pattern(kid: str) -> str:
    """``LIKE`` pattern for values sealed under ``kid`` (key ids hold no wildcard characters)."""
    return f"{PREFIX}{kid}.%"


def random_key() -> bytes:
    return secrets.token_bytes(32)


def load_keyring(settings) -> Keyring:  # noqa: ANN001 (huzhu.config.Settings; imported lazily)
    return Keyring(root_secret=settings.seal_root, file=settings.resolved_keyring_file)


def attach_keyring(engine: Engine, keyring: Keyring) -> None:
    setattr(engine.dialect, _DIALECT_ATTR, keyring)


_fallback: Keyring | None = None


def attached_keyring(dialect: Dialect) -> Keyring | None:
    return getattr(dialect, _DIALECT_ATTR, None)


def keyring_for_dialect(dialect: Dialect) -> Keyring:
    keyring = attached_keyring(dialect)
    if keyring is not None:
        return keyring
    global _fallback
    if _fallback is None:
        from huzhu.config import get_settings

        _fallback = load_keyring(get_settings())
    return _fallback


def keyring_of(session: Session) -> Keyring:
    return keyring_for_dialect(session.get_bind().dialect)


def rotate(keyring: Keyring) -> str:
    """Add a new random key to the keyring file and make it current; returns its id. Values sealed
    before stay readable under their old key until re-sealed."""
    if keyring.file is None:
        raise SealError("this keyring has no file to add a key to (set HUZHU_KEYRING_FILE)")
    stored = KeyringFile.read(keyring.file)
    kid = keyring.new_key_id()
    stored.keys[kid] = random_key()
    stored.current = kid
    stored.write(keyring.file)
    keyring.refresh(force=True)
    return kid


def retire(keyring: Keyring, kid: str) -> None:
    """Drop a key from the keyring file (the caller has checked nothing uses it any more)."""
    if keyring.file is None:
        raise SealError("this keyring has no file (set HUZHU_KEYRING_FILE)")
    if kid == keyring.current:
        raise SealError(f"{kid} is the current key: rotate first")
    if kid not in keyring.key_ids:
        raise SealError(f"no key {kid!r} in the keyring")
    stored = KeyringFile.read(keyring.file)
    stored.keys.pop(kid, None)
    if kid == "k0" and "k0" not in stored.retired:
        stored.retired.append("k0")
    stored.current = keyring.current
    stored.write(keyring.file)
    keyring.refresh(force=True)


def mac(keyring: Keyring, kid: str, data: bytes) -> str:
    """An HMAC of ``data`` under a key derived from sealing key ``kid`` (authenticates a backup's
    manifest: only someone holding the key could have written it)."""
    keyring.key(kid)
    derived = hmac.new(keyring._keys[kid], b"huzhu backup manifest", hashlib.sha256).digest()
    return hmac.new(derived, data, hashlib.sha256).hexdigest()
