"""Resident ID numbers at rest: never stored in clear.

A member row keeps three things instead of the number:

* a keyed digest (HMAC-SHA-256) — unique, so a second registration of the same number is refused
  and an import can find duplicates with one indexed query, without the number itself;
* the number sealed with AES-256-GCM (random nonce, authenticated) — for the rare lawful reader
  (an investigator checking identity), through ``Member.id_number``;
* the masked form shown in the member's own pages (``4503**********1228``).

Both keys derive from one secret, ``HUZHU_ID_NUMBER_KEY`` (required in production, separate from
the session secret). A stolen database holds no ID number; one without the key cannot even test a
guess against the digests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huzhu.identity.masking import mask_id_number

SEAL_VERSION = "v1"


class IdNumberVault:
    def __init__(self, secret: str) -> None:
        root = secret.encode("utf-8")
        self._mac_key = hmac.new(root, b"huzhu id-number digest", hashlib.sha256).digest()
        self._aead = AESGCM(hmac.new(root, b"huzhu id-number seal", hashlib.sha256).digest())

    def digest(self, number: str) -> str:
        """The keyed digest of a normalised number (64 hex characters)."""
        return hmac.new(self._mac_key, number.encode("ascii"), hashlib.sha256).hexdigest()

    def seal(self, number: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, number.encode("ascii"), SEAL_VERSION.encode())
        return f"{SEAL_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def unseal(self, token: str) -> str:
        version, _, body = token.partition(".")
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        return self._aead.decrypt(raw[:12], raw[12:], version.encode()).decode("ascii")

    def columns(self, number: str) -> dict[str, str]:
        """The member columns that stand for a normalised number."""
        return {"id_number_digest": self.digest(number), "id_number_sealed": self.seal(number),
                "id_number_masked": mask_id_number(number)}
