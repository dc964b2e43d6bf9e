"""Signed notes (C2SP signed-note, https://c2sp.org/signed-note): keys, signing, verification.

This module owns the note format and its Ed25519 keys (signature type ``0x01``), byte for byte
compatible with Go's reference, ``golang.org/x/mod/sumdb/note``:

- **Note** (§Format): a UTF-8 text ending in a newline, a blank line, then one or more signature
  lines ``— <key name> <base64(key ID || signature)>``. No control characters other than newline.
  The text is separated from the signatures by the *last* blank line.
- **Key ID** (§Signatures): the first 4 bytes, big-endian, of
  ``SHA-256(key name || "\\n" || signature type || public key)``.
- **Verifier key** (§Verifier keys): ``<name>+<hex key ID>+<base64(type || public key)>``; the
  signer key is the same with ``PRIVATE+KEY+`` in front and the 32-byte Ed25519 seed as key.
- **Opening** a note (§Signatures): signatures from unknown keys are ignored (kept as
  ``unverified``); a signature line that names a known key (name *and* key ID) must verify or the
  whole note is rejected; at least one known signature must verify. Like the Go reference we
  refuse notes with more than 100 signature lines (the spec asks verifiers to accept at least 16).

Other signature types plug in through the :class:`Verifier` and :class:`Signer` protocols:
:mod:`huzhu_verify.cosignature` adds the timestamped witness cosignatures (type ``0x04``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from huzhu_verify._util import b64decode_strict, b64encode
from huzhu_verify.errors import (
    AmbiguousKeyError,
    InvalidSignatureError,
    MalformedError,
    UnverifiedNoteError,
)

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Ed25519Signer",
    "Ed25519Verifier",
    "Note",
    "Signature",
    "Signer",
    "Verifier",
    "VerifierSet",
    "add_signature_lines",
    "decode_signer_key",
    "decode_verifier_key",
    "ed25519_verifier_key",
    "format_key",
    "generate_key",
    "is_valid_key_name",
    "key_hash",
    "new_signer",
    "new_verifier",
    "open_note",
    "parse_note",
    "sign_note",
]

ALG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (C2SP signed-note §Signature types)."""

MAX_SIGNATURES = 100
"""More signature lines than this make a note malformed (the Go reference's limit)."""

SIGNATURE_PREFIX = "— "  # em dash U+2014, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}\Z")


# --- keys --------------------------------------------------------------------------------------


def key_hash(name: str, typed_key: bytes) -> int:
    """Key ID: first 4 bytes (big-endian) of SHA-256(name || "\\n" || type byte || public key).

    ``typed_key`` is the signature type byte followed by the public key.
    """
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + typed_key).digest()
    return int.from_bytes(digest[:4], "big")


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty and contain neither Unicode spaces nor ``+`` (signed-note §Format)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name) and not _CONTROL.search(name)


def _split(text: str, count: int) -> list[str]:
    """Split on the first ``count`` plus signs (base64 may itself contain ``+``)."""
    parts = text.split("+", count)
    return parts + [""] * (count + 1 - len(parts))


def decode_verifier_key(vkey: str) -> tuple[str, int, int, bytes]:
    """Parse ``<name>+<hex key ID>+<base64(type || key)>`` into (name, key ID, type, key).

    The key ID must be 8 hex digits and equal the key ID computed from the name and key.
    """
    name, hash16, key64 = _split(vkey, 2)
    if not _HEX8.match(hash16) or not is_valid_key_name(name):
        raise MalformedError(f"malformed verifier key {vkey[:80]!r}: expected <name>+<8 hex digits>+<base64>")
    typed = b64decode_strict(key64, f"verifier key {name!r}")
    if not typed:
        raise MalformedError(f"verifier key {name!r} has no key material")
    declared = int(hash16, 16)
    if declared != key_hash(name, typed):
        raise MalformedError(
            f"verifier key {name!r}: key ID {hash16} does not match the key (expected {key_hash(name, typed):08x})"
        )
    return name, declared, typed[0], typed[1:]


def decode_signer_key(skey: str) -> tuple[str, int, int, bytes]:
    """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || private key)>``.

    Returns (name, declared key ID, type, private key); the caller derives the public key and must
    check the declared key ID against it.
    """
    priv1, priv2, name, hash16, key64 = _split(skey, 4)
    if priv1 != "PRIVATE" or priv2 != "KEY" or not _HEX8.match(hash16) or not is_valid_key_name(name):
        raise MalformedError("malformed signer key: expected PRIVATE+KEY+<name>+<8 hex digits>+<base64>")
    typed = b64decode_strict(key64, f"signer key {name!r}")
    if not typed:
        raise MalformedError(f"signer key {name!r} has no key material")
    return name, int(hash16, 16), typed[0], typed[1:]


def format_key(name: str, typed_key: bytes, *, private: bool = False, hash_key: bytes | None = None) -> str:
    """Encode a key in the note text format; ``hash_key`` is the typed public key used for the ID."""
    kid = key_hash(name, typed_key if hash_key is None else hash_key)
    prefix = "PRIVATE+KEY+" if private else ""
    return f"{prefix}{name}+{kid:08x}+{b64encode(typed_key)}"


@runtime_checkable
class Verifier(Protocol):
    """Checks signatures of one key; ``verify`` returns False (never raises) on a bad signature."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


@runtime_checkable
class Signer(Protocol):
    """Produces signatures of one key over a note's text."""

    @property
    def name(self) -> str: ...

    @property
    def key_hash(self) -> int: ...

    def sign(self, message: bytes) -> bytes: ...


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_name_and_length(name: str, raw: bytes, what: str) -> None:
    if not is_valid_key_name(name):
        raise MalformedError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")
    if len(raw) != 32:
        raise MalformedError(f"key {name!r}: an Ed25519 {what} is 32 bytes, got {len(raw)}")


class Ed25519PublicKeyOf:
    """An Ed25519 public key under a name, for one signature type (``ALG``): the name, the key ID
    and the verifier key text. Subclasses say how a signature of their type is checked."""

    ALG = ALG_ED25519
    KIND = "Ed25519 (0x01)"
    __slots__ = ("_key", "_key_hash", "_name", "public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name_and_length(name, public_key, "public key")
        self._name = name
        self.public_key = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)
        self._key_hash = key_hash(name, bytes([self.ALG]) + self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        name, _, alg, key = decode_verifier_key(vkey)
        if alg != cls.ALG:
            raise MalformedError(f"verifier key {name!r} has signature type {alg:#04x}, not {cls.KIND}")
        return cls(name, key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_hash(self) -> int:
        return self._key_hash

    @property
    def vkey(self) -> str:
        """The verifier key in text form."""
        return format_key(self._name, bytes([self.ALG]) + self.public_key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"


class Ed25519SeedOf:
    """An Ed25519 private key (a 32-byte seed, RFC 8032) under a name, for one signature type:
    the signer key text, the key ID and the matching verifier (``VERIFIER``)."""

    ALG = ALG_ED25519
    KIND = "Ed25519 (0x01)"
    VERIFIER: type[Ed25519PublicKeyOf] = Ed25519PublicKeyOf
    __slots__ = ("_key", "_key_hash", "_name", "_seed", "public_key")

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name_and_length(name, seed, "seed")
        self._name = name
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(self._seed)
        self.public_key = _public_bytes(self._key)
        self._key_hash = key_hash(name, bytes([self.ALG]) + self.public_key)

    @classmethod
    def _decode(cls, skey: str) -> tuple[str, int, bytes]:
        name, declared, alg, seed = decode_signer_key(skey)
        if alg != cls.ALG:
            raise MalformedError(f"signer key {name!r} has signature type {alg:#04x}, not {cls.KIND}")
        return name, declared, seed

    def _check_declared(self, declared: int) -> None:
        if declared != self._key_hash:
            raise MalformedError(f"signer key {self._name!r}: key ID {declared:08x} does not match the key")

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_hash(self) -> int:
        return self._key_hash

    @property
    def skey(self) -> str:
        """The signer key in text form (secret)."""
        return format_key(self._name, bytes([self.ALG]) + self._seed, private=True,
                          hash_key=bytes([self.ALG]) + self.public_key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, key ID {self._key_hash:08x})"


class Ed25519Verifier(Ed25519PublicKeyOf):
    """Verifier for Ed25519 note signatures (type ``0x01``)."""

    __slots__ = ()

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Ed25519Signer(Ed25519SeedOf):
    """Signer for Ed25519 note signatures (type ``0x01``), from a 32-byte seed (RFC 8032)."""

    __slots__ = ()

    @classmethod
    def from_skey(cls, skey: str) -> Ed25519Signer:
        name, declared, seed = cls._decode(skey)
        signer = cls(name, seed)
        signer._check_declared(declared)
        return signer

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        """A new random key (from the operating system's CSPRNG)."""
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @property
    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self._name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def new_verifier(vkey: str) -> Ed25519Verifier:
    """The verifier for an Ed25519 verifier key (like Go's ``note.NewVerifier``)."""
    return Ed25519Verifier.from_vkey(vkey)


def new_signer(skey: str) -> Ed25519Signer:
    """The signer for an Ed25519 signer key (like Go's ``note.NewSigner``)."""
    return Ed25519Signer.from_skey(skey)


def generate_key(name: str) -> tuple[str, str]:
    """A new Ed25519 key pair as (signer key, verifier key) text."""
    signer = Ed25519Signer.generate(name)
    return signer.skey, signer.verifier.vkey


def ed25519_verifier_key(name: str, public_key: bytes) -> str:
    """The verifier key text of a raw 32-byte Ed25519 public key."""
    return Ed25519Verifier(name, public_key).vkey


class VerifierSet:
    """The keys a reader trusts, looked up by (name, key ID); duplicates are an error when used."""

    def __init__(self, verifiers: Iterable[Verifier] = ()) -> None:
        self._by_id: dict[tuple[str, int], list[Verifier]] = {}
        for verifier in verifiers:
            self._by_id.setdefault((verifier.name, verifier.key_hash), []).append(verifier)

    def lookup(self, name: str, key_id: int) -> Verifier | None:
        found = self._by_id.get((name, key_id))
        if not found:
            return None
        if len(found) > 1:
            raise AmbiguousKeyError(f"two trusted keys are named {name} with key ID {key_id:08x}")
        return found[0]

    def __iter__(self) -> Iterator[Verifier]:
        for group in self._by_id.values():
            yield from group

    def __len__(self) -> int:
        return sum(len(group) for group in self._by_id.values())


# --- notes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key ID and the base64 of (key ID || signature) as written."""

    name: str
    key_hash: int
    base64: str

    @property
    def raw(self) -> bytes:
        """The signature bytes after the 4-byte key ID."""
        return b64decode_strict(self.base64, "signature")[4:]

    @property
    def line(self) -> str:
        """The signature line as it appears in a note, with its newline."""
        return f"{SIGNATURE_PREFIX}{self.name} {self.base64}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text and which signatures verified (``signatures``) or were unknown."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = ()


def _check_text_characters(text: str, what: str) -> None:
    match = _CONTROL.search(text)
    if match:
        raise MalformedError(
            f"{what} contains the control character U+{ord(match.group()):04X} at offset {match.start()}: "
            "signed notes allow only newlines"
        )


def _decode(msg: bytes) -> str:
    try:
        text = msg.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"malformed note: not valid UTF-8 at byte {exc.start}") from None
    _check_text_characters(text, "malformed note:")
    return text


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedError(f"malformed note: {line[:60]!r} after the blank line is not a signature line")
    name, _, b64 = line[len(SIGNATURE_PREFIX):].partition(" ")
    if not is_valid_key_name(name) or not b64:
        raise MalformedError(f"malformed note: bad signature line {line[:60]!r}")
    raw = b64decode_strict(b64, f"malformed note: the signature by {name!r}")
    if len(raw) < 5:
        raise MalformedError(f"malformed note: the signature by {name!r} is too short")
    return Signature(name, int.from_bytes(raw[:4], "big"), b64)


def parse_note(msg: bytes) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and signature lines, checking the syntax only.

    Nothing is verified: use :func:`open_note` to trust the text.
    """
    whole = _decode(msg)
    split = whole.rfind("\n\n")
    if split < 0:
        raise MalformedError("malformed note: no blank line separates the text from the signatures")
    text, block = whole[: split + 1], whole[split + 2:]
    if not block or not block.endswith("\n"):
        raise MalformedError("malformed note: it has no signature line, or the last one lacks its newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedError(f"malformed note: {len(lines)} signature lines (at most {MAX_SIGNATURES})")
    return text, [_parse_signature_line(line) for line in lines]


def open_note(msg: bytes, known: Iterable[Verifier] | VerifierSet) -> Note:
    """Parse ``msg`` and verify its signatures against the ``known`` keys (C2SP signed-note).

    Raises :class:`MalformedError` for syntax, :class:`InvalidSignatureError` if a known key's
    signature fails, :class:`UnverifiedNoteError` if no known key signed. Repeated signature lines
    are reported once.
    """
    keys = known if isinstance(known, VerifierSet) else VerifierSet(known)
    text, signatures = parse_note(msg)
    message = text.encode("utf-8")
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[str, Signature] = {}
    for sig in signatures:
        verifier = keys.lookup(sig.name, sig.key_hash)
        if verifier is None:
            unverified.setdefault(sig.line, sig)
            continue
        if not verifier.verify(message, sig.raw):
            raise InvalidSignatureError(sig.name, sig.key_hash)
        verified.setdefault((sig.name, sig.key_hash), sig)
    note = Note(text, tuple(verified.values()), tuple(unverified.values()))
    if not verified:
        names = ", ".join(f"{s.name} ({s.key_hash:08x})" for s in note.unverified) or "none"
        raise UnverifiedNoteError(
            f"no signature from a trusted key: the note is signed by {names}", note
        )
    return note


def sign_note(text: str, signers: Sequence[Signer], existing: Sequence[Signature] = ()) -> bytes:
    """Sign ``text`` with each signer; ``existing`` signatures are kept unless a signer replaces them.

    The output is byte-identical to Go's ``note.Sign``: the text, a blank line, the kept existing
    signatures, then the new ones in the order given.
    """
    if not text.endswith("\n"):
        raise MalformedError("a note's text must end with a newline")
    _check_text_characters(text, "the note text")
    message = text.encode("utf-8")
    fresh: list[str] = []
    replaced: set[tuple[str, int]] = set()
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise MalformedError(f"invalid signer name {signer.name!r}")
        replaced.add((signer.name, signer.key_hash))
        raw = signer.key_hash.to_bytes(4, "big") + signer.sign(message)
        fresh.append(Signature(signer.name, signer.key_hash, b64encode(raw)).line)
    kept: list[str] = []
    for sig in existing:
        if (sig.name, sig.key_hash) in replaced:
            continue
        raw = b64decode_strict(sig.base64, "existing signature")
        if not is_valid_key_name(sig.name) or len(raw) < 5 or int.from_bytes(raw[:4], "big") != sig.key_hash:
            raise MalformedError(f"existing signature by {sig.name!r} is malformed")
        kept.append(sig.line)
    return (text + "\n" + "".join(kept) + "".join(fresh)).encode("utf-8")


def add_signature_lines(msg: bytes, lines: Iterable[str]) -> bytes:
    """Append signature lines (e.g. witness cosignatures) to a signed note, skipping ones it has.

    Each line is checked for syntax; whether it verifies is the caller's business.
    """
    _, present = parse_note(msg)
    have = {sig.line for sig in present}
    out = [msg.decode("utf-8")]
    for line in lines:
        line = line if line.endswith("\n") else line + "\n"
        if "\n" in line[:-1]:
            raise MalformedError("a signature line must not contain a newline")
        sig = _parse_signature_line(line[:-1])
        if sig.line not in have:
            have.add(sig.line)
            out.append(sig.line)
    result = "".join(out).encode("utf-8")
    parse_note(result)  # still within the signature limit
    return result
