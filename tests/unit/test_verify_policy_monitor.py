"""Trust policies (C2SP tlog-policy format, k-of-n quorums) and the monitor that remembers checkpoints."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from huzhu.transparency.tiles import TileLogWriter
from huzhu_verify.checkpoint import Checkpoint
from huzhu_verify.cosignature import CosignatureSigner
from huzhu_verify.errors import (
    ForkError,
    InvalidSignatureError,
    MalformedError,
    QuorumError,
    RollbackError,
    TileError,
    UnknownLogError,
    UnverifiedNoteError,
)
from huzhu_verify.merkle import leaf_hash
from huzhu_verify.monitor import Monitor, MonitorState
from huzhu_verify.note import Ed25519Signer, add_signature_lines, sign_note
from huzhu_verify.policy import Policy, parse_policy
from huzhu_verify.tiles import DirectoryTileReader

ORIGIN = "huzhu.test/log"
LOG = Ed25519Signer(ORIGIN, hashlib.sha256(b"log").digest())


def _cosigner(name: str, t: int = 1_700_000_000) -> CosignatureSigner:
    return CosignatureSigner(name, hashlib.sha256(name.encode()).digest(), clock=lambda: t)


W = {short: _cosigner(f"{short}.example/w") for short in ("x1", "x2", "x3", "y1", "y2", "y3")}

SPEC_SHAPED = f"""
# the example of the tlog-policy specification, with real keys
log {LOG.verifier.vkey}

witness X1 {W['x1'].verifier.vkey}
witness X2 {W['x2'].verifier.vkey}
witness X3 {W['x3'].verifier.vkey}
group X-witnesses 2 X1 X2 X3

\twitness Y1   {W['y1'].verifier.vkey}   https://y1.example/
witness Y2 {W['y2'].verifier.vkey}
witness Y3 {W['y3'].verifier.vkey}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""

BODY = Checkpoint(ORIGIN, 7, hashlib.sha256(b"root").digest()).to_text()


def _note(*cosigners: str, body: str = BODY) -> bytes:
    return sign_note(body, [LOG, *(W[c] for c in cosigners)])


def test_the_spec_example_quorum() -> None:
    policy = parse_policy(SPEC_SHAPED)
    assert policy.witnesses["Y1"].url == "https://y1.example/"
    assert policy.quorum_met({"X1", "X3", "Y2"})
    assert not policy.quorum_met({"X1", "Y2"})  # only 1 of the X group
    assert not policy.quorum_met({"X1", "X2", "X3"})  # no Y
    assert policy.describe_quorum() == (
        "all of (2 of (witness X1, witness X2, witness X3), any of (witness Y1, witness Y2, witness Y3))"
    )


def test_a_checkpoint_meeting_the_quorum_verifies() -> None:
    policy = parse_policy(SPEC_SHAPED)
    verified = policy.verify_checkpoint(_note("x1", "x2", "y3"))
    assert verified.checkpoint.size == 7
    assert verified.cosigners == {"X1": 1_700_000_000, "X2": 1_700_000_000, "Y3": 1_700_000_000}


def test_quorum_not_met_names_who_cosigned_and_what_is_needed() -> None:
    policy = parse_policy(SPEC_SHAPED)
    needs = r"the policy needs all of \(2 of \(witness X1, witness X2, witness X3\), any of"
    with pytest.raises(QuorumError, match=r"cosigned by X1, Y1; " + needs):
        policy.verify_checkpoint(_note("x1", "y1"))


def test_unknown_cosigners_are_ignored_and_a_bad_known_one_rejects() -> None:
    policy = Policy.k_of_n(LOG.verifier.vkey, {"x1": W["x1"].verifier.vkey}, 1)
    stranger = _cosigner("stranger.example/w")
    assert policy.verify_checkpoint(sign_note(BODY, [LOG, stranger, W["x1"]])).cosigners.keys() == {"x1"}
    with pytest.raises(QuorumError):
        policy.verify_checkpoint(sign_note(BODY, [LOG, stranger]))
    other_body = BODY.replace("\n7\n", "\n8\n")
    forged_line = sign_note(other_body, [W["x1"]]).decode().split("\n\n")[1]  # x1's signature on another tree
    with pytest.raises(InvalidSignatureError):
        policy.verify_checkpoint(add_signature_lines(sign_note(BODY, [LOG]), [forged_line]))


def test_the_log_key_must_sign_and_name_the_origin() -> None:
    policy = Policy.k_of_n(LOG.verifier.vkey, {}, 0)
    assert policy.verify_checkpoint(sign_note(BODY, [LOG])).cosigners == {}
    with pytest.raises(UnverifiedNoteError):
        policy.verify_checkpoint(sign_note(BODY, [Ed25519Signer.generate(ORIGIN)]))
    with pytest.raises(UnknownLogError):
        policy.verify_checkpoint(sign_note(BODY.replace(ORIGIN, "another.test/log"), [LOG]))


def test_k_of_n_round_trips_through_text() -> None:
    policy = Policy.k_of_n(LOG.verifier.vkey, {n: W[n].verifier.vkey for n in ("x1", "x2", "x3")}, 2)
    again = parse_policy(policy.to_text())
    assert again.to_text() == policy.to_text()
    assert again.quorum_met({"x2", "x3"}) and not again.quorum_met({"x2"})


def test_plain_ed25519_witness_keys_are_read_as_cosignature_keys() -> None:
    plain = Ed25519Signer("x1.example/w", hashlib.sha256(b"x1.example/w").digest()).verifier.vkey
    policy = parse_policy(f"log {LOG.verifier.vkey}\nwitness x1 {plain}\nquorum x1\n")
    assert policy.witnesses["x1"].verifier.key_hash == W["x1"].key_hash
    assert policy.verify_checkpoint(_note("x1")).cosigners.keys() == {"x1"}


LOGLINE = f"log {LOG.verifier.vkey}\n"
X1 = f"witness x1 {W['x1'].verifier.vkey}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LOGLINE, "no quorum line"),
        (X1 + "quorum x1\n", "no log key"),
        (LOGLINE + "quorum x1\n", "not defined"),
        (LOGLINE + X1 + X1.replace("x1 ", "x2 ") + "quorum x1\n", "already listed"),
        (LOGLINE + X1 + X1 + "quorum x1\n", "already defined"),
        (LOGLINE + X1.replace("x1 ", "none ") + "quorum none\n", "reserved"),
        (LOGLINE + X1 + "group g 0 x1\nquorum g\n", "threshold"),
        (LOGLINE + X1 + "group g 2 x1\nquorum g\n", "threshold"),
        (LOGLINE + X1 + "group g 01 x1\nquorum g\n", "threshold"),
        (LOGLINE + X1 + "group g any x1 x1\nquorum g\n", "twice"),
        (LOGLINE + "group g any x1\n" + X1 + "quorum g\n", "before it is defined"),
        (LOGLINE + X1 + "quorum x1\nquorum none\n", "exactly one quorum"),
        (LOGLINE + "quorum none\nfrobnicate x\n", "unknown keyword"),
        (LOGLINE + "quorum none\r\n", "forbidden character"),
        (LOGLINE + f"witness w {LOG.verifier.vkey.replace('+A', '+B', 1)}\nquorum none\n", "does not match"),
        (LOGLINE + LOGLINE + "quorum none\n", "already listed"),
    ],
)
def test_malformed_policies_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        parse_policy(text)


# --- the monitor -----------------------------------------------------------------------------------


def _entry(i: int, variant: bytes = b"") -> bytes:
    return b'{"seq":%d%s}' % (i, variant)


def _publish(directory: Path, entries: list[bytes]) -> bytes:
    with TileLogWriter(directory, LOG, durable=False) as writer:
        writer.append(entries[writer.size:])
        return writer.publish().note


@pytest.fixture
def monitor(tmp_path: Path) -> Monitor:
    return Monitor(MonitorState(tmp_path / "state.json"), Policy.k_of_n(LOG.verifier.vkey, {}, 0),
                   clock=lambda: "2026-11-25T08:00:00Z")


def test_monitor_remembers_and_accepts_extensions(tmp_path: Path, monitor: Monitor) -> None:
    log = tmp_path / "log"
    entries = [_entry(i) for i in range(1000)]
    first = monitor.check(_publish(log, entries[:300]), DirectoryTileReader(log))
    assert first.previous is None and first.status == "first checkpoint remembered"
    assert monitor.check((log / "checkpoint").read_bytes(), DirectoryTileReader(log)).status == "unchanged"
    later = monitor.check(_publish(log, entries), DirectoryTileReader(log))
    assert later.status == "extended from size 300" and later.proof_length > 0
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["format"] == "huzhu-verify-monitor/1"
    assert state["logs"][ORIGIN]["size"] == 1000
    assert state["logs"][ORIGIN]["verified_at"] == "2026-11-25T08:00:00Z"
    assert state["logs"][ORIGIN]["checkpoint"] == (log / "checkpoint").read_text()


def _forked(tmp_path: Path, entries: list[bytes]) -> Path:
    fork = tmp_path / "fork"
    _publish(fork, entries)
    return fork


def test_monitor_catches_a_rewrite_of_the_same_size(tmp_path: Path, monitor: Monitor) -> None:
    log = tmp_path / "log"
    entries = [_entry(i) for i in range(500)]
    monitor.check(_publish(log, entries), DirectoryTileReader(log))
    rewritten = list(entries)
    rewritten[42] = _entry(42, b',"edited":1')
    fork = _forked(tmp_path, rewritten)
    with pytest.raises(ForkError, match="two different trees of size 500") as caught:
        monitor.check((fork / "checkpoint").read_bytes(), DirectoryTileReader(fork))
    assert caught.value.evidence == ((log / "checkpoint").read_bytes(), (fork / "checkpoint").read_bytes())
    assert monitor.state.get(ORIGIN).root_hash != leaf_hash(b"")  # unchanged: still the first tree
    assert monitor.state.get(ORIGIN).checkpoint == (log / "checkpoint").read_bytes()


def test_monitor_catches_a_rewrite_hidden_in_a_larger_tree(tmp_path: Path, monitor: Monitor) -> None:
    log = tmp_path / "log"
    entries = [_entry(i) for i in range(500)]
    monitor.check(_publish(log, entries), DirectoryTileReader(log))
    rewritten = entries[:10] + entries[11:] + [_entry(i) for i in range(500, 800)]  # entry 10 dropped
    fork = _forked(tmp_path, rewritten)
    with pytest.raises(ForkError, match="does not extend"):
        monitor.check((fork / "checkpoint").read_bytes(), DirectoryTileReader(fork))
    assert monitor.state.get(ORIGIN).size == 500


def test_monitor_catches_a_rollback(tmp_path: Path, monitor: Monitor) -> None:
    old = tmp_path / "old"
    log = tmp_path / "log"
    entries = [_entry(i) for i in range(700)]
    _publish(old, entries[:400])
    monitor.check(_publish(log, entries), DirectoryTileReader(log))
    with pytest.raises(RollbackError, match="smaller than the size 700"):
        monitor.check((old / "checkpoint").read_bytes(), DirectoryTileReader(old))


def test_monitor_checks_the_tiles_against_the_checkpoint(tmp_path: Path, monitor: Monitor) -> None:
    log = tmp_path / "log"
    note = _publish(log, [_entry(i) for i in range(300)])
    (log / "tile/1/000.p/1").write_bytes(bytes(32))
    with pytest.raises(TileError, match="hash to"):
        monitor.check(note, DirectoryTileReader(log))
    assert monitor.state.get(ORIGIN) is None


def test_a_broken_state_file_is_an_error_not_a_fresh_start(tmp_path: Path, monitor: Monitor) -> None:
    (tmp_path / "state.json").write_text('{"format": "something else", "logs": {}}')
    log = tmp_path / "log"
    with pytest.raises(MalformedError):
        monitor.check(_publish(log, [_entry(0)]), DirectoryTileReader(log))
