"""Trust policy: which log keys and which witness quorum make a checkpoint valid.

The file format is C2SP tlog-policy (https://c2sp.org/tlog-policy), the standardised form of the
Sigsum policy file. One item per line; blank lines and ``#`` comments are ignored; items are
separated by spaces or tabs::

    # the huzhu public log (the vkey's name is the log's origin)
    log huzhu.example/public-log+1a2b3c4d+AQ...

    # witnesses: a name used below, a cosignature vkey (type 0x04), optional URL
    witness bank     bank.example/witness+5e6f7a8b+BA...
    witness auditor  auditor.example/w1+0c1d2e3f+BA...
    witness ngo      ngo.example/w+44556677+BA...

    # k of n: at least 2 of the 3 witnesses
    group  witnesses 2 bank auditor ngo
    quorum witnesses

``group <name> all|any|<k> <member>...`` needs k of its n members (witnesses or earlier groups);
``quorum <name>`` names the witness or group that must be satisfied, or ``none``. A name must be
defined before it is used; keys must not repeat. Witness vkeys of type ``0x01`` are accepted and
read as cosignature keys (the convention of ``transparency-dev/formats``).

A checkpoint is valid under the policy (:meth:`Policy.verify_checkpoint`) if a listed log key
signed it, its origin is that key's name, no signature line by a listed key fails, and the
witnesses whose cosignatures verify satisfy the quorum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from huzhu_verify.checkpoint import Checkpoint, parse_checkpoint
from huzhu_verify.cosignature import ALG_COSIGNATURE_V1, CosignatureVerifier, cosignature_timestamp
from huzhu_verify.errors import InvalidSignatureError, MalformedError, QuorumError, UnknownLogError
from huzhu_verify.note import ALG_ED25519, Ed25519Verifier, decode_verifier_key, open_note, parse_note

__all__ = [
    "Group",
    "LogKey",
    "Policy",
    "VerifiedCheckpoint",
    "WitnessKey",
    "load_policy",
    "parse_policy",
]

NONE = "none"
_ALLOWED = re.compile(r"[^\t\n\x20-\x7e\x80-\U0010ffff]")
_MAX_ITEMS = 256


@dataclass(frozen=True)
class LogKey:
    verifier: Ed25519Verifier
    url: str | None = None

    @property
    def origin(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class WitnessKey:
    name: str
    verifier: CosignatureVerifier
    url: str | None = None


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint that satisfied the policy: the body, the bytes, who signed and cosigned (when)."""

    checkpoint: Checkpoint
    raw: bytes
    log_key: str
    cosigners: Mapping[str, int]  # policy witness name -> cosignature timestamp


class Policy:
    """Logs, witnesses, groups and the quorum of one tlog-policy file."""

    def __init__(
        self,
        logs: Iterable[LogKey],
        witnesses: Iterable[WitnessKey] = (),
        groups: Iterable[Group] = (),
        quorum: str | None = None,
    ) -> None:
        self.logs = tuple(logs)
        self.witnesses = {w.name: w for w in witnesses}
        self.groups = {g.name: g for g in groups}
        self.quorum = quorum
        if quorum is not None and quorum not in self.witnesses and quorum not in self.groups:
            raise MalformedError(f"the quorum names {quorum!r}, which is neither a witness nor a group")

    @classmethod
    def k_of_n(cls, log_vkey: str, witness_vkeys: Mapping[str, str], k: int) -> Policy:
        """A one-log policy needing ``k`` of the named witnesses (``k = 0``: no witnesses needed)."""
        lines = [f"log {log_vkey}"] + [f"witness {name} {vkey}" for name, vkey in witness_vkeys.items()]
        if k == 0:
            lines.append("quorum none")
        else:
            lines += [f"group quorum-group {k} {' '.join(witness_vkeys)}", "quorum quorum-group"]
        return parse_policy("\n".join(lines) + "\n")

    def to_text(self) -> str:
        """The policy in tlog-policy format (parses back to the same policy)."""
        out = [f"log {log.verifier.vkey}" + (f" {log.url}" if log.url else "") for log in self.logs]
        for w in self.witnesses.values():
            out.append(f"witness {w.name} {w.verifier.vkey}" + (f" {w.url}" if w.url else ""))
        for g in self.groups.values():
            out.append(f"group {g.name} {g.threshold} {' '.join(g.members)}")
        out.append(f"quorum {self.quorum or NONE}")
        return "\n".join(out) + "\n"

    # --- evaluation ------------------------------------------------------------------------------

    def _satisfied(self, name: str, cosigners: set[str]) -> bool:
        if name in self.witnesses:
            return name in cosigners
        group = self.groups[name]
        return sum(self._satisfied(m, cosigners) for m in group.members) >= group.threshold

    def quorum_met(self, cosigners: Iterable[str]) -> bool:
        return self.quorum is None or self._satisfied(self.quorum, set(cosigners))

    def describe_quorum(self) -> str:
        if self.quorum is None:
            return "no witness cosignature required (quorum none)"
        return self._describe(self.quorum)

    def _describe(self, name: str) -> str:
        if name in self.witnesses:
            return f"witness {name}"
        g = self.groups[name]
        members = ", ".join(self._describe(m) for m in g.members)
        if g.threshold == len(g.members):
            return f"all of ({members})"
        if g.threshold == 1:
            return f"any of ({members})"
        return f"{g.threshold} of ({members})"

    def verify_checkpoint(self, msg: bytes, *, origin: str | None = None) -> VerifiedCheckpoint:
        """Verify a signed checkpoint under this policy; raise a :class:`VerificationError` if not.

        Raises :class:`~huzhu_verify.errors.SignatureError` (no valid log signature, or a bad
        signature by a listed key), :class:`UnknownLogError` (origin not the signing key's name,
        or not ``origin``) and :class:`QuorumError` (too few witnesses).
        """
        note = open_note(msg, [log.verifier for log in self.logs])
        checkpoint = parse_checkpoint(note.text)
        signed_by = {sig.name for sig in note.signatures}
        if checkpoint.origin not in signed_by:
            raise UnknownLogError(
                f"the checkpoint's origin {checkpoint.origin!r} is not the name of the log key that signed it "
                f"({', '.join(sorted(signed_by))})"
            )
        if origin is not None and checkpoint.origin != origin:
            raise UnknownLogError(f"the checkpoint is for {checkpoint.origin!r}, expected {origin!r}")
        cosigners = self._verified_cosigners(msg, note.text)
        if not self.quorum_met(cosigners):
            have = ", ".join(sorted(cosigners)) or "no trusted witness"
            raise QuorumError(
                f"the checkpoint of {checkpoint.origin} at size {checkpoint.size} is cosigned by {have}; "
                f"the policy needs {self.describe_quorum()}"
            )
        return VerifiedCheckpoint(checkpoint, bytes(msg), checkpoint.origin, cosigners)

    def _verified_cosigners(self, msg: bytes, text: str) -> dict[str, int]:
        by_id = {(w.verifier.name, w.verifier.key_hash): w for w in self.witnesses.values()}
        message = text.encode("utf-8")
        found: dict[str, int] = {}
        for sig in parse_note(msg)[1]:
            witness = by_id.get((sig.name, sig.key_hash))
            if witness is None:
                continue
            if not witness.verifier.verify(message, sig.raw):
                raise InvalidSignatureError(sig.name, sig.key_hash)
            found[witness.name] = cosignature_timestamp(sig)
        return found


# --- parsing -------------------------------------------------------------------------------------


def _witness_verifier(vkey: str, line_no: int) -> CosignatureVerifier:
    name, _, alg, key = decode_verifier_key(vkey)
    if alg not in (ALG_COSIGNATURE_V1, ALG_ED25519):
        raise MalformedError(f"policy line {line_no}: witness key type {alg:#04x} is not an Ed25519 cosignature key")
    return CosignatureVerifier(name, key)


class _Parser:
    def __init__(self) -> None:
        self.logs: list[LogKey] = []
        self.witnesses: list[WitnessKey] = []
        self.groups: list[Group] = []
        self.names: set[str] = set()
        self.keys: set[bytes] = set()
        self.quorum: str | None = None
        self.quorum_seen = False

    def _new_name(self, name: str, line_no: int) -> None:
        if name == NONE or name in self.names:
            raise MalformedError(f"policy line {line_no}: the name {name!r} is reserved or already defined")
        self.names.add(name)

    def _new_key(self, key: bytes, line_no: int) -> None:
        if key in self.keys:
            raise MalformedError(f"policy line {line_no}: this public key is already listed")
        self.keys.add(key)

    def line(self, words: list[str], line_no: int) -> None:
        keyword, args = words[0], words[1:]
        handler = {"log": self.log, "witness": self.witness, "group": self.group, "quorum": self.set_quorum}.get(keyword)
        if handler is None:
            raise MalformedError(f"policy line {line_no}: unknown keyword {keyword!r}")
        handler(args, line_no)
        if len(self.logs) + len(self.witnesses) + len(self.groups) > _MAX_ITEMS:
            raise MalformedError(f"the policy defines more than {_MAX_ITEMS} items")

    def log(self, args: list[str], line_no: int) -> None:
        if len(args) not in (1, 2):
            raise MalformedError(f"policy line {line_no}: expected 'log <vkey> [<url>]'")
        verifier = Ed25519Verifier.from_vkey(args[0])
        self._new_key(verifier.public_key, line_no)
        self.logs.append(LogKey(verifier, args[1] if len(args) == 2 else None))

    def witness(self, args: list[str], line_no: int) -> None:
        if len(args) not in (2, 3):
            raise MalformedError(f"policy line {line_no}: expected 'witness <name> <vkey> [<url>]'")
        self._new_name(args[0], line_no)
        verifier = _witness_verifier(args[1], line_no)
        self._new_key(verifier.public_key, line_no)
        self.witnesses.append(WitnessKey(args[0], verifier, args[2] if len(args) == 3 else None))

    def group(self, args: list[str], line_no: int) -> None:
        if len(args) < 3:
            raise MalformedError(f"policy line {line_no}: expected 'group <name> all|any|<k> <member>...'")
        name, rule, members = args[0], args[1], args[2:]
        if len(set(members)) != len(members):
            raise MalformedError(f"policy line {line_no}: a member is listed twice in group {name!r}")
        for member in members:
            if member not in self.names:
                raise MalformedError(f"policy line {line_no}: group {name!r} uses {member!r} before it is defined")
        threshold = {"all": len(members), "any": 1}.get(rule)
        if threshold is None:
            if not rule.isdigit() or rule != str(int(rule)) or not 1 <= int(rule) <= len(members):
                raise MalformedError(f"policy line {line_no}: threshold {rule!r} must be all, any or 1..{len(members)}")
            threshold = int(rule)
        self._new_name(name, line_no)
        self.groups.append(Group(name, threshold, tuple(members)))

    def set_quorum(self, args: list[str], line_no: int) -> None:
        if self.quorum_seen:
            raise MalformedError(f"policy line {line_no}: a policy has exactly one quorum line")
        if len(args) != 1:
            raise MalformedError(f"policy line {line_no}: expected 'quorum <name>' or 'quorum none'")
        if args[0] != NONE and args[0] not in self.names:
            raise MalformedError(f"policy line {line_no}: the quorum {args[0]!r} is not defined above it")
        self.quorum_seen = True
        self.quorum = None if args[0] == NONE else args[0]


def parse_policy(text: str) -> Policy:
    """Parse a tlog-policy file (see the module docstring); :class:`MalformedError` names the line."""
    bad = _ALLOWED.search(text)
    if bad:
        raise MalformedError(f"the policy contains the forbidden character U+{ord(bad.group()):04X}")
    parser = _Parser()
    for line_no, raw in enumerate(text.split("\n"), start=1):
        words = raw.replace("\t", " ").split(" ")
        words = [w for w in words if w]
        if not words or words[0].startswith("#"):
            continue
        parser.line(words, line_no)
    if not parser.quorum_seen:
        raise MalformedError("the policy has no quorum line (write 'quorum none' to require no witness)")
    if not parser.logs:
        raise MalformedError("the policy lists no log key")
    return Policy(parser.logs, parser.witnesses, parser.groups, parser.quorum)


def load_policy(path: Path | str) -> Policy:
    """Read and parse a policy file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedError(f"cannot read the policy file {path}: {exc}") from None
    return parse_policy(text)
