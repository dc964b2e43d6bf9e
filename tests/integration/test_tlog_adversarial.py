"""An operator who controls the log's key and files tries to rewrite history or split the view; each
attempt must be caught by the real ``huzhu-verify`` command (run as a subprocess), which names the
check that failed and exits non-zero. The honest log passes every check first, so a test that
passes is not just a verifier that fails everything."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from huzhu_verify.note import Ed25519Signer
from huzhu_verify.tiles import format_entry_bundle, parse_entry_bundle

from .tlog_world import ORIGIN, World, huzhu_verify, record

N = 1_000  # entries in the first published tree
LATER = 1_600  # after more entries


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture
def honest(world: World, tmp_path: Path) -> tuple[Path, Path, list[bytes]]:
    """The log published at N (checkpoint saved by a client as `seen`), then at LATER; a monitor
    remembered the first checkpoint."""
    log = tmp_path / "log"
    entries = [record(i) for i in range(LATER)]
    first = world.publish(log, entries[:N])
    seen = tmp_path / "seen-checkpoint"
    seen.write_bytes(first.note)
    assert huzhu_verify("monitor", log, "--state", tmp_path / "state.json", "--policy", world.policy_path).returncode == 0
    world.publish(log, entries)
    return log, seen, entries


def _monitor(world: World, log: Path) -> object:
    return huzhu_verify("monitor", log, "--state", world.root / "state.json", "--policy", world.policy_path)


def test_the_honest_log_passes_every_check(world: World, honest: tuple[Path, Path, list[bytes]]) -> None:
    log, seen, entries = honest
    policy = ("--policy", world.policy_path)
    entry = world.root / "entry-1234"
    entry.write_bytes(entries[1234])
    runs = {
        "checkpoint": huzhu_verify("checkpoint", log, *policy),
        "inclusion": huzhu_verify("inclusion", log, "--index", "1234", "--entry-file", entry, *policy),
        "consistency": huzhu_verify("consistency", log, "--old", seen, *policy),
        "replay": huzhu_verify("replay", log, *policy),
        "monitor": _monitor(world, log),
    }
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stdout, run.stderr)
        assert run.failed_checks == [] and run.stdout.rstrip().endswith("RESULT: PASS"), name
    assert "extended from size 1000" in runs["monitor"].stdout
    assert "1600 entries" in runs["replay"].stdout


def test_an_entry_edited_in_place_and_resigned_is_caught_by_history(
    world: World, honest: tuple[Path, Path, list[bytes]]
) -> None:
    log, seen, entries = honest
    edited = list(entries)
    edited[42] = record(42, share_fen=3)  # charge member 42 less, recompute everything, re-sign
    publication = world.rewrite(log, edited, witnesses=("bank", "auditor", "ngo"))
    # The honest witnesses refuse to cosign it: it does not extend what they cosigned.
    assert publication.cosigned_by == ()
    assert all("HTTP 422" in failure for failure in publication.witness_failures)
    # Internally the rewritten log is consistent: replay alone cannot tell…
    assert huzhu_verify("replay", log, "--log-key", world.log_key.verifier.vkey).returncode == 0
    # …but a monitor that remembers, and anyone holding an earlier checkpoint, can.
    monitor = _monitor(world, log)
    assert monitor.returncode == 1
    assert any(line.startswith("FAIL  witness quorum") for line in monitor.failed_checks)
    no_witness = huzhu_verify("monitor", log, "--state", world.root / "state.json",
                              "--log-key", world.log_key.verifier.vkey)
    assert no_witness.returncode == 1
    assert no_witness.failed_checks[0].startswith("FAIL  append-only history: FORK")
    assert "does not extend" in no_witness.failed_checks[0]
    consistency = huzhu_verify("consistency", log, "--old", seen, "--log-key", world.log_key.verifier.vkey)
    assert consistency.returncode == 1
    assert consistency.failed_checks[0].startswith("FAIL  consistency proof")


def test_an_entry_dropped_is_caught(world: World, honest: tuple[Path, Path, list[bytes]]) -> None:
    log, seen, entries = honest
    world.rewrite(log, entries[:500] + entries[501:])  # one record fewer
    run = huzhu_verify("monitor", log, "--state", world.root / "state.json", "--log-key", world.log_key.verifier.vkey)
    assert run.returncode == 1
    assert "FORK" in run.failed_checks[0] and "does not extend the size 1000" in run.failed_checks[0]


def test_two_entries_swapped_is_caught(world: World, honest: tuple[Path, Path, list[bytes]]) -> None:
    log, seen, entries = honest
    swapped = list(entries[:N])
    swapped[10], swapped[11] = swapped[11], swapped[10]
    world.rewrite(log, swapped)
    run = huzhu_verify("monitor", log, "--state", world.root / "state.json", "--log-key", world.log_key.verifier.vkey)
    assert run.returncode == 1
    assert "two different trees of size 1000" in run.failed_checks[0]
    # Both contradicting checkpoints, signed by the log, are printed as evidence.
    evidence = run.stdout.split("evidence", 1)[1]
    assert (seen.read_text().splitlines()[2] in evidence) and ((log / "checkpoint").read_text().splitlines()[2] in evidence)
    assert evidence.count("— huzhu.example/public-log ") == 2


def test_a_forked_log_served_to_one_client_is_caught(world: World, tmp_path: Path) -> None:
    entries = [record(i) for i in range(N)]
    view_a, view_b = tmp_path / "view-a", tmp_path / "view-b"
    world.publish(view_a, entries[:800])
    shutil.copytree(view_a, view_b)
    world.publish(view_a, entries)  # what most clients see: cosigned by every witness
    other = entries[:800] + [record(i, share_fen=0) for i in range(800, N)]
    fork_b = world.publish(view_b, other)  # the same size, other entries, for one client
    assert fork_b.cosigned_by == ()  # witnesses that saw view A refuse view B
    client_b = huzhu_verify("checkpoint", view_b, "--policy", world.policy_path)
    assert client_b.returncode == 1 and client_b.failed_checks[0].startswith("FAIL  witness quorum")
    # A monitor that follows view A and is then shown view B (even without witnesses) sees the fork.
    state = ("--state", tmp_path / "client.json", "--log-key", world.log_key.verifier.vkey)
    assert huzhu_verify("monitor", view_a, *state).returncode == 0
    run = huzhu_verify("monitor", view_b, *state)
    assert run.returncode == 1 and "two different trees of size 1000" in run.failed_checks[0]


def test_a_checkpoint_signed_by_the_wrong_key_is_refused(world: World, tmp_path: Path) -> None:
    log = tmp_path / "impostor"
    impostor = Ed25519Signer.generate(ORIGIN)  # same name, another key
    world.publish(log, [record(i) for i in range(10)], witnesses=(), signer=impostor)
    run = huzhu_verify("checkpoint", log, "--policy", world.policy_path)
    assert run.returncode == 1
    assert run.failed_checks[0].startswith("FAIL  log signature: no signature from a trusted key")


def test_a_witness_refuses_a_non_extension_and_the_quorum_fails(world: World, tmp_path: Path) -> None:
    log = tmp_path / "log"
    entries = [record(i) for i in range(300)]
    world.publish(log, entries, witnesses=("bank",))
    assert world.witnesses["bank"].state.get(ORIGIN).size == 300
    rewritten = [record(0, member="M0000000-extra")] + entries[1:] + [record(i) for i in range(300, 400)]
    publication = world.rewrite(log, rewritten, witnesses=("bank", "auditor", "ngo"))
    assert publication.cosigned_by == ("auditor.example/witness", "ngo.example/witness")  # they never saw the log
    assert "HTTP 422" in publication.witness_failures[0] and "not an extension" in publication.witness_failures[0]
    assert world.witnesses["bank"].state.get(ORIGIN).size == 300  # the bank's record is unchanged
    strict = world.root / "policy-bank.txt"
    strict.write_text(world.policy(2).to_text().replace("quorum quorum-group", "quorum bank"))
    run = huzhu_verify("checkpoint", log, "--policy", strict)
    assert run.returncode == 1 and "cosigned by auditor, ngo; the policy needs witness bank" in run.failed_checks[0]


def test_a_rolled_back_checkpoint_is_caught(world: World, honest: tuple[Path, Path, list[bytes]]) -> None:
    log, seen, entries = honest
    assert _monitor(world, log).returncode == 0  # the monitor now remembers size 1600
    old_log = world.root / "old"
    world.publish(old_log, entries[:N], witnesses=())
    run = huzhu_verify("monitor", old_log, "--state", world.root / "state.json", "--log-key", world.log_key.verifier.vkey)
    assert run.returncode == 1
    assert run.failed_checks[0].startswith("FAIL  append-only history: ROLLBACK")
    consistency = huzhu_verify("consistency", old_log, "--old", log / "checkpoint",
                               "--log-key", world.log_key.verifier.vkey)
    assert consistency.returncode == 1 and "smaller" in consistency.failed_checks[0]


def test_a_policy_quorum_not_met(world: World, tmp_path: Path) -> None:
    log = tmp_path / "log"
    world.publish(log, [record(i) for i in range(50)], witnesses=("ngo",))
    run = huzhu_verify("checkpoint", log, "--policy", world.policy_path)
    assert run.returncode == 1
    assert run.failed_checks == [
        "FAIL  witness quorum: the checkpoint of huzhu.example/public-log at size 50 is cosigned by ngo; "
        "the policy needs 2 of (witness bank, witness auditor, witness ngo)"
    ]
    assert huzhu_verify("checkpoint", log, "--policy", _write(world, world.policy(1))).returncode == 0


def _write(world: World, policy: object) -> Path:
    path = world.root / "policy-1.txt"
    path.write_text(policy.to_text())  # type: ignore[attr-defined]
    return path


def test_an_entry_changed_in_its_bundle_only_is_caught(world: World, honest: tuple[Path, Path, list[bytes]]) -> None:
    log, _, entries = honest
    bundle = log / "tile/entries/004"
    changed = parse_entry_bundle(bundle.read_bytes())
    changed[7] = record(1031, share_fen=30000)
    bundle.write_bytes(format_entry_bundle(changed))
    replay = huzhu_verify("replay", log, "--policy", world.policy_path)
    assert replay.returncode == 1 and "leaf 1031" in replay.failed_checks[0]
    inclusion = huzhu_verify("inclusion", log, "--index", "1031", "--policy", world.policy_path)
    assert inclusion.returncode == 1 and inclusion.failed_checks[0].startswith("FAIL  inclusion proof")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return


@pytest.fixture
def served(honest: tuple[Path, Path, list[bytes]]) -> Iterator[str]:
    log = honest[0]
    handler = lambda *a, **k: _QuietHandler(*a, directory=str(log), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_command_reads_a_log_over_http(world: World, served: str) -> None:
    run = huzhu_verify("replay", served, "--policy", world.policy_path)
    assert run.returncode == 0, run.stdout
    assert "1600 entries" in run.stdout and served in run.stdout
    assert huzhu_verify("checkpoint", served + "checkpoint", "--policy", world.policy_path).returncode == 0


def test_usage_errors_exit_2_and_unreadable_inputs_fail(world: World, tmp_path: Path) -> None:
    assert huzhu_verify("replay").returncode == 2
    missing = huzhu_verify("replay", tmp_path / "nothing-here", "--policy", world.policy_path)
    assert missing.returncode == 1 and "checkpoint is not published" in missing.failed_checks[0]
