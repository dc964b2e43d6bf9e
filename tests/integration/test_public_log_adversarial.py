"""The attacks of issue 9, each caught by ``huzhu-verify`` from the published files alone (both databases):
a record edited in place, dropped, two swapped, a forked log served to one client, a checkpoint signed
by the wrong key, a rolled-back checkpoint. (A witness asked to cosign a non-extension:
tests/bank/test_log_witnesses.py; the same edits in the database: tests/integration/test_public_log.py
and the ``huzhu ledger check`` cases in tests/integration/test_members_and_ledger.py.)

The operator holds the log key, so the fork, drop and rollback cases are signed by the real key: each
version is self-consistent, and only a client that remembers what it saw (``monitor``) catches them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from huzhu.clock import FixedClock
from huzhu.platform import Platform
from huzhu.transparency.log import SIGNER_INFO_KEY
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.publish import publish_tiles
from huzhu.transparency.service import append_record
from huzhu.transparency.tiles import TileLogWriter
from huzhu_verify.note import Ed25519Signer, sign_note
from huzhu_verify.tiles import TileRef, format_entry_bundle, parse_entry_bundle

SRC = str(Path(__file__).resolve().parents[2] / "src")


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huzhu_verify", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120)


@pytest.fixture
def published(platform: Platform, clock: FixedClock, tmp_path: Path) -> tuple[Path, Ed25519Signer, list[bytes]]:
    """A demo-like log (cases, shares, payouts) of 300 records, published; (directory, key, entries)."""
    with platform.session() as s:
        for i in range(297):
            kind = ("case_noticed", "case_shared", "case_paid")[i % 3]
            append_record(s, kind=kind, subject=f"HZ{i // 3:06d}",
                          payload={"case_no": f"HZ{i // 3:06d}", "amount": f"{1000 + i}.00"}, now=clock.now())
    site = tmp_path / "site"
    with platform.read_factory() as s:
        signer = s.info[SIGNER_INFO_KEY]
        publish_tiles(s, site, signer, durable=False)
        entries = [p.encode() for p in s.scalars(select(PublicRecord.payload).order_by(PublicRecord.leaf_index))]
    return site, signer, entries


def _rewrite(directory: Path, signer: Ed25519Signer, entries: list[bytes]) -> None:
    """What a dishonest operator can do: publish another history, signed with the real key."""
    shutil.rmtree(directory, ignore_errors=True)
    with TileLogWriter(directory, signer, durable=False) as writer:
        writer.append(entries)
        writer.publish()


def _bundle(site: Path) -> Path:
    return site / TileRef.entries(0).path


def test_a_record_edited_in_the_files_fails_replay(published: tuple[Path, Ed25519Signer, list[bytes]]) -> None:
    site, signer, _ = published
    entries = parse_entry_bundle(_bundle(site).read_bytes())
    edited = entries[10].replace(b'"subject":"HZ', b'"subject":"HX')
    assert edited != entries[10]
    entries[10] = edited
    _bundle(site).write_bytes(format_entry_bundle(entries))
    result = verify("replay", str(site), "--log-key", signer.verifier.vkey)
    assert result.returncode == 1 and "FAIL" in result.stdout, result.stdout


def test_two_records_swapped_in_the_files_fail_replay(published: tuple[Path, Ed25519Signer, list[bytes]]) -> None:
    site, signer, _ = published
    entries = parse_entry_bundle(_bundle(site).read_bytes())
    entries[20], entries[21] = entries[21], entries[20]
    _bundle(site).write_bytes(format_entry_bundle(entries))
    result = verify("replay", str(site), "--log-key", signer.verifier.vkey)
    assert result.returncode == 1 and "FAIL" in result.stdout, result.stdout


def test_a_checkpoint_signed_by_another_key_fails(published: tuple[Path, Ed25519Signer, list[bytes]]) -> None:
    site, signer, _ = published
    text = (site / "checkpoint").read_text().split("\n\n")[0] + "\n"
    (site / "checkpoint").write_bytes(sign_note(text, [Ed25519Signer.generate(signer.name)]))
    for command in ("checkpoint", "replay"):
        result = verify(command, str(site), "--log-key", signer.verifier.vkey)
        assert result.returncode == 1 and "FAIL  log signature" in result.stdout, result.stdout


@pytest.mark.parametrize("attack", ["edited", "dropped", "swapped"])
def test_a_forked_history_signed_by_the_operator_is_caught_by_a_monitor(
        published: tuple[Path, Ed25519Signer, list[bytes]], tmp_path: Path, attack: str) -> None:
    site, signer, entries = published
    state = tmp_path / "monitor.json"
    vkey = signer.verifier.vkey
    seen = verify("monitor", str(site), "--state", str(state), "--log-key", vkey)
    assert seen.returncode == 0, seen.stdout
    forked = list(entries) + [json.dumps({"kind": "case_noticed", "n": i}).encode() for i in range(5)]
    if attack == "edited":
        forked[50] = forked[50].replace(b'"subject":"HZ', b'"subject":"HX')
        assert forked[50] != entries[50]
    elif attack == "dropped":
        del forked[60]
    else:
        forked[70], forked[71] = forked[71], forked[70]
    fork = tmp_path / "fork"
    _rewrite(fork, signer, forked)
    # The fork on its own is a valid, signed log: a client with no memory cannot tell.
    alone = verify("replay", str(fork), "--log-key", vkey)
    assert alone.returncode == 0, alone.stdout
    caught = verify("monitor", str(fork), "--state", str(state), "--log-key", vkey)
    assert caught.returncode == 1 and "FAIL  append-only history" in caught.stdout, caught.stdout
    assert "evidence" in caught.stdout  # both signed checkpoints are shown, to be kept


def test_a_rolled_back_checkpoint_is_caught_by_a_monitor(
        published: tuple[Path, Ed25519Signer, list[bytes]], tmp_path: Path) -> None:
    site, signer, entries = published
    state = tmp_path / "monitor.json"
    vkey = signer.verifier.vkey
    assert verify("monitor", str(site), "--state", str(state), "--log-key", vkey).returncode == 0
    older = tmp_path / "older"
    _rewrite(older, signer, entries[:200])  # the same history, cut back to size 200 and re-signed
    assert verify("replay", str(older), "--log-key", vkey).returncode == 0
    caught = verify("monitor", str(older), "--state", str(state), "--log-key", vkey)
    assert caught.returncode == 1 and "FAIL  append-only history" in caught.stdout, caught.stdout
