"""The bank's Ed25519 key and its signed notes (the C2SP signed-note format).

A note is UTF-8 text of complete lines, a blank line, then signature lines
``— <key name> <base64(key hash ‖ signature)>``; the key hash is the first four bytes of
SHA-256(key name ‖ "\\n" ‖ 0x01 ‖ public key) and the signature is Ed25519 over the text. The
verifier key is published as ``<key name>+<key hash hex>+<base64(0x01 ‖ public key)>``.

Another engineer is writing ``huzhu_verify.note``; :func:`sign_note` and :func:`verify_note` are the
two functions to swap for it once it lands.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_ED25519 = b"\x01"
_DASH = "\u2014 "  # em dash and space start every signature line


class NoteError(ValueError):
    """A note that is malformed, or whose signature does not verify."""


@dataclass(frozen=True)
class BankKey:
    """The bank's signing key and its name (a C2SP key name: no spaces, no "+")."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_bytes)

    @property
    def verifier_key(self) -> str:
        """``name+hash+base64(0x01 ‖ key)``: what a verifier needs, published at ``/v1/public-key``."""
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(_ED25519 + self.public_bytes).decode()}"


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError(f"key name {name!r} must be non-empty, without spaces or '+'")


def load_or_create_key(path: Path, name: str) -> BankKey:
    """Read the PKCS#8 PEM key at ``path``; create it (mode 0600) on first start."""
    _check_name(name)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return BankKey(name, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return BankKey(name, key)


def sign_note(text: str, key: BankKey) -> str:
    """The signed note: ``text`` (complete lines, no blank line at its end), a blank line, one signature."""
    if not text.endswith("\n") or text.endswith("\n\n") or "\n\n" in text:
        raise ValueError("a note's text is complete lines without blank ones")
    signature = key.private_key.sign(text.encode())
    return f"{text}\n{_DASH}{key.name} {base64.b64encode(key.key_hash + signature).decode()}\n"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """(name, 32-byte Ed25519 public key) from ``name+hash+base64``; checks the hash."""
    try:
        name, hash_hex, b64 = vkey.split("+", 2)
        raw = base64.b64decode(b64, validate=True)
    except ValueError as exc:
        raise NoteError("a verifier key is name+hash+base64") from exc
    if len(raw) != 33 or raw[:1] != _ED25519:
        raise NoteError("the verifier key is not an Ed25519 key")
    if key_hash(name, raw[1:]).hex() != hash_hex:
        raise NoteError("the verifier key's hash does not match its name and key")
    return name, raw[1:]


def verify_note(note: str, vkey: str) -> str:
    """Return the note's text if a signature line of ``vkey``'s key verifies; raise :class:`NoteError`."""
    name, public = parse_verifier_key(vkey)
    text, sep, signatures = note.rpartition("\n\n")
    if not sep:
        raise NoteError("the note has no signature block")
    text += "\n"
    expected_hash = key_hash(name, public)
    for line in signatures.splitlines():
        if not line.startswith(_DASH):
            raise NoteError(f"malformed signature line {line!r}")
        signer, _space, b64 = line[len(_DASH):].partition(" ")
        blob = base64.b64decode(b64)
        if signer != name or blob[:4] != expected_hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError("the note's signature does not verify") from exc
        return text
    raise NoteError(f"the note carries no signature by {name}")
