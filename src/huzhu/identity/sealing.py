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
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from huzhu.errors import InvalidInput
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


VAULT_INFO_KEY = "id_number_vault"


def id_number_vault(session: Session | None) -> IdNumberVault:
    """The vault of the platform whose session factory opened ``session`` (``build_platform`` puts
    it in every session's ``info``), so services need no key of their own."""
    vault = session.info.get(VAULT_INFO_KEY) if session is not None else None
    if vault is None:
        raise RuntimeError("this session carries no ID-number key; open sessions from build_platform's factories")
    return vault


REKEY_BATCH = 5_000


def rekey_members(session: Session, new_key: str, *, progress: Callable[[int], None] | None = None) -> int:
    """Reseal every member's ID number and recompute its digest under ``new_key``, in the caller's
    transaction (all or nothing); returns how many were resealed. The session's own vault holds
    the current key; a number it cannot unseal stops the rekey before anything is written."""
    from huzhu.members.models import Member  # the model imports this module

    if len(new_key) < 32:
        raise InvalidInput("the new ID-number key must be at least 32 characters")
    old, new = id_number_vault(session), IdNumberVault(new_key)
    if session.get_bind().dialect.name == "postgresql":
        # No member may be added under the old key while the others move to the new one.
        session.execute(text("LOCK TABLE members IN EXCLUSIVE MODE"))
    table = Member.__table__
    statement = (update(table).where(table.c.id == bindparam("member_id"))
                 .values(id_number_digest=bindparam("digest"), id_number_sealed=bindparam("sealed")))
    done, last = 0, 0
    while True:
        rows = session.execute(select(table.c.id, table.c.id_number_sealed).where(table.c.id > last)
                               .order_by(table.c.id).limit(REKEY_BATCH)).all()
        if not rows:
            return done
        params = []
        for member_id, sealed in rows:
            try:
                number = old.unseal(sealed)
            except Exception as exc:  # noqa: BLE001 - InvalidTag or a malformed seal: the wrong current key
                raise InvalidInput(f"member {member_id}'s ID number does not open with the current key; "
                                   "nothing was changed") from exc
            params.append({"member_id": member_id, "digest": new.digest(number), "sealed": new.seal(number)})
        session.execute(statement, params)
        done += len(rows)
        last = rows[-1][0]
        if progress:
            progress(len(rows))
