"""A small world for the public-log tests: the log's key, three witnesses (the bank, an auditor, an
NGO) each with its own state, a 2-of-3 policy file, realistic public records, and the real
``huzhu-verify`` command run as a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from huzhu.transparency.tiles import Publication, TileLogWriter, WitnessPeer
from huzhu_verify.cosignature import CosignatureSigner
from huzhu_verify.note import Ed25519Signer
from huzhu_verify.policy import Policy
from huzhu_verify.witness import MemoryWitnessState, Witness

SRC = Path(__file__).resolve().parents[2] / "src"
ORIGIN = "huzhu.example/public-log"


def record(i: int, **changes: object) -> bytes:
    """A public record as the platform writes them: canonical JSON, about 200 bytes."""
    body = {
        "kind": "share_charged",
        "subject": f"R{20160223 + i // 1000:08d}-{i % 1000:04d}",
        "recorded_at": f"2016-02-23T11:{i // 60 % 60:02d}:{i % 60:02d}+08:00",
        "member": f"M{i * 7919 % 1_000_003:07d}",
        "case": "C2016-0001",
        "share_fen": 300 - i % 3,
        "run": 1,
    }
    body.update(changes)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def failed_checks(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("FAIL")]


def huzhu_verify(*args: str | Path) -> CliResult:
    """Run ``huzhu-verify`` (``python -m huzhu_verify``, this checkout's code) and capture its report."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "huzhu_verify", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@dataclass
class World:
    root: Path
    log_key: Ed25519Signer = field(default_factory=lambda: Ed25519Signer(ORIGIN, _seed("log")))
    witness_keys: dict[str, CosignatureSigner] = field(default_factory=dict)
    witnesses: dict[str, Witness] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("bank", "auditor", "ngo"):
            key = CosignatureSigner(f"{name}.example/witness", _seed(name), clock=lambda: 1_456_198_800)
            self.witness_keys[name] = key
            self.witnesses[name] = Witness(key, {ORIGIN: [self.log_key.verifier]}, MemoryWitnessState())
        self.policy_path.write_text(self.policy(2).to_text())

    @property
    def policy_path(self) -> Path:
        return self.root / "policy.txt"

    def policy(self, k: int) -> Policy:
        keys = {name: key.verifier.vkey for name, key in self.witness_keys.items()}
        return Policy.k_of_n(self.log_key.verifier.vkey, keys, k)

    def peers(self, names: Sequence[str] = ("bank", "auditor", "ngo")) -> list[WitnessPeer]:
        return [WitnessPeer(self.witnesses[n], self.witness_keys[n].verifier) for n in names]

    def publish(self, directory: Path, entries: Sequence[bytes], *, witnesses: Sequence[str] = ("bank", "auditor", "ngo"),
                signer: Ed25519Signer | None = None) -> Publication:
        """Append what ``directory`` lacks of ``entries`` and publish, asking the named witnesses."""
        with TileLogWriter(directory, signer or self.log_key, durable=False) as writer:
            writer.append(entries[writer.size:])
            return writer.publish(witnesses=self.peers(witnesses))

    def rewrite(self, directory: Path, entries: Sequence[bytes], *, witnesses: Sequence[str] = ()) -> Publication:
        """The operator replaces the whole log with other entries, tiles recomputed, signed by the log key."""
        scratch = directory.with_name(directory.name + ".rewrite")
        shutil.rmtree(scratch, ignore_errors=True)
        publication = self.publish(scratch, entries, witnesses=witnesses)
        shutil.rmtree(directory)
        scratch.rename(directory)
        return publication


def _seed(name: str) -> bytes:
    return hashlib.sha256(b"huzhu test key " + name.encode()).digest()
