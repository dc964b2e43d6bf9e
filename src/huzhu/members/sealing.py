"""Members' resident ID numbers at rest: the platform's vault (``identity.sealing.IdNumberVault``)
travels in every session's ``info``, so services and the ``Member.id_number`` property need no key
of their own (``members.service.rekey_members`` reseals them under a new key)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from huzhu.identity.sealing import IdNumberVault

VAULT_INFO_KEY = "id_number_vault"


def id_number_vault(session: Session | None) -> IdNumberVault:
    """The vault of the platform whose session factory opened ``session`` (``build_platform`` puts
    it in every session's ``info``), so services need no key of their own."""
    vault = session.info.get(VAULT_INFO_KEY) if session is not None else None
    if not isinstance(vault, IdNumberVault):
        raise RuntimeError("this session carries no ID-number key; open sessions from build_platform's factories")
    return vault
