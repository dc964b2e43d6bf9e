"""Witness cosignatures (C2SP tlog-cosignature, https://c2sp.org/tlog-cosignature), Ed25519 v1.

A cosignature is a note signature line on a checkpoint whose key type byte is ``0x04``, so its key
ID differs from a plain Ed25519 key's even for the same public key (§Format)::

    key ID = SHA-256(<name> || "\\n" || 0x04 || 32-byte Ed25519 public key)[:4]

The signature is a ``timestamped_signature``: the POSIX time as a big-endian u64 (at most
2^63 - 1, never zero from a witness) followed by the 64-byte Ed25519 signature of (§Ed25519 signed
message)::

    cosignature/v1
    time <timestamp in decimal>
    <the whole checkpoint text, extension lines included>

It states that, at that time, this was the largest consistent tree the cosigner had seen for that
origin. The classes below implement the :class:`~huzhu_verify.note.Signer` and
:class:`~huzhu_verify.note.Verifier` protocols, so :func:`~huzhu_verify.note.open_note` checks
cosignatures like any other signature. Keys use the note key encodings with type ``0x04``
(the convention of ``transparency-dev/formats``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from huzhu_verify._util import b64decode_strict, b64encode
from huzhu_verify.errors import InvalidSignatureError, MalformedError
from huzhu_verify.note import Ed25519PublicKeyOf, Ed25519SeedOf, Signature

__all__ = [
    "ALG_COSIGNATURE_V1",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosign",
    "cosignature_timestamp",
    "cosigned_message",
    "generate_cosigner_key",
    "verify_cosignature",
]

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 cosignatures (tlog-cosignature §Format)."""

MAX_TIMESTAMP = (1 << 63) - 1
_TIMESTAMP_SIZE = 8
_SIGNATURE_SIZE = 64


def cosigned_message(checkpoint_text: str | bytes, timestamp: int) -> bytes:
    """The exact bytes an Ed25519 v1 cosignature signs (tlog-cosignature §Ed25519 signed message)."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")
    body = checkpoint_text.encode("utf-8") if isinstance(checkpoint_text, str) else bytes(checkpoint_text)
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


class CosignatureVerifier(Ed25519PublicKeyOf):
    """Verifies Ed25519 v1 cosignatures of one witness (type 0x04 key)."""

    ALG = ALG_COSIGNATURE_V1
    KIND = "an Ed25519 cosignature key (0x04)"
    __slots__ = ()

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(signature[_TIMESTAMP_SIZE:], cosigned_message(message, timestamp))
        except InvalidSignature:
            return False
        return True


class CosignatureSigner(Ed25519SeedOf):
    """Produces Ed25519 v1 cosignatures; ``clock`` returns the POSIX time (seconds) to sign with."""

    ALG = ALG_COSIGNATURE_V1
    KIND = "a cosignature key (0x04)"
    __slots__ = ("_clock",)

    def __init__(self, name: str, seed: bytes, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name, seed)
        self._clock = clock

    @classmethod
    def from_skey(cls, skey: str, *, clock: Callable[[], float] = time.time) -> CosignatureSigner:
        name, declared, seed = cls._decode(skey)
        signer = cls(name, seed, clock=clock)
        signer._check_declared(declared)
        return signer

    @classmethod
    def generate(cls, name: str, *, clock: Callable[[], float] = time.time) -> CosignatureSigner:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw(), clock=clock)

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self._name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Timestamp (now, from the clock) followed by the Ed25519 signature of the cosigned message."""
        timestamp = int(self._clock())
        if timestamp <= 0:
            raise MalformedError("a cosignature needs a positive timestamp (the clock says otherwise)")
        signature = self._key.sign(cosigned_message(message, timestamp))
        return timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature


def generate_cosigner_key(name: str) -> tuple[str, str]:
    """A new witness key pair as (signer key, verifier key) text, type ``0x04``."""
    signer = CosignatureSigner.generate(name)
    return signer.skey, signer.verifier.vkey


def cosign(checkpoint_text: str, signer: CosignatureSigner) -> Signature:
    """The cosignature of a checkpoint text, as a note signature (``.line`` is the text form)."""
    raw = signer.key_hash.to_bytes(4, "big") + signer.sign(checkpoint_text.encode("utf-8"))
    return Signature(signer.name, signer.key_hash, b64encode(raw))


def cosignature_timestamp(signature: Signature) -> int:
    """The POSIX time a cosignature claims (unverified: check it with :func:`verify_cosignature`)."""
    raw = b64decode_strict(signature.base64, "cosignature")
    if len(raw) != 4 + _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
        raise MalformedError(f"the cosignature by {signature.name} is {len(raw)} bytes, not 76")
    return int.from_bytes(raw[4:12], "big")


def verify_cosignature(checkpoint_text: str, signature: Signature, verifier: CosignatureVerifier) -> int:
    """Check one cosignature over a checkpoint text; returns its timestamp.

    Raises :class:`InvalidSignatureError` if the line is not this witness's or does not verify.
    """
    if (signature.name, signature.key_hash) != (verifier.name, verifier.key_hash):
        raise InvalidSignatureError(signature.name, signature.key_hash)
    if not verifier.verify(checkpoint_text.encode("utf-8"), signature.raw):
        raise InvalidSignatureError(signature.name, signature.key_hash)
    return cosignature_timestamp(signature)
