"""The public log end to end: records → signed checkpoint → ``huzhu publish DIR`` (incremental) and the
portal's ``/log/`` → ``huzhu-verify replay`` passes; a tampered file fails it. The log API's proofs
and its RFC 9457 refusals of sizes it has not signed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import select

from huzhu.app import create_app
from huzhu.clock import FixedClock
from huzhu.platform import Platform
from huzhu.transparency.log import SIGNER_INFO_KEY
from huzhu.transparency.merkle import leaf_hash
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.publish import KEY_FILE, publish_tiles
from huzhu.transparency.service import append_record
from huzhu_verify.checkpoint import open_checkpoint
from huzhu_verify.merkle import verify_consistency, verify_inclusion

SRC = str(Path(__file__).resolve().parents[2] / "src")
PORT = int(os.environ.get("HUZHU_TEST_LOG_PORT", "18111"))
WITNESS_PORT = int(os.environ.get("HUZHU_TEST_LOG_WITNESS_PORT", "18131"))


def _append(platform: Platform, clock: FixedClock, count: int, start: int = 0) -> None:
    with platform.session() as session:
        for i in range(start, start + count):
            append_record(session, kind="case_noticed", subject=f"HZ{i:06d}",
                          payload={"case_no": f"HZ{i:06d}", "amount": f"{i}.00", "title": "互助 案例"},
                          now=clock.now())


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "huzhu_verify", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _publish(platform: Platform, directory: Path) -> None:
    with platform.read_factory() as session:
        publish_tiles(session, directory, session.info[SIGNER_INFO_KEY], durable=False)


def test_publish_then_replay_passes_and_tampering_fails(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    base = len(platform.plans)  # the plans' rule versions are the first records
    _append(platform, clock, 300 - base)
    out = tmp_path / "site"
    _publish(platform, out)
    vkey = (out / KEY_FILE).read_text().strip()
    first = verify("replay", str(out), "--log-key", vkey)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "size 300" in first.stdout or "300" in first.stdout

    # Incremental: the full tile and bundle of the first 256 entries are not written again.
    full_bundle = out / "tile" / "entries" / "000"
    before = full_bundle.stat().st_mtime_ns
    old_checkpoint = tmp_path / "old-checkpoint"
    old_checkpoint.write_bytes((out / "checkpoint").read_bytes())
    _append(platform, clock, 40, start=300 - base)
    time.sleep(0.01)
    _publish(platform, out)
    assert full_bundle.stat().st_mtime_ns == before
    assert (out / "tile" / "0" / "001.p" / "84").exists()
    again = verify("replay", str(out), "--log-key", vkey)
    assert again.returncode == 0, again.stdout + again.stderr
    grown = verify("consistency", str(out), "--old", str(old_checkpoint), "--log-key", vkey)
    assert grown.returncode == 0, grown.stdout + grown.stderr

    # One byte of one published entry changed: the replay fails and says where.
    bundle = out / "tile" / "entries" / "001.p" / "84"
    data = bytearray(bundle.read_bytes())
    data[-3] ^= 0x01
    bundle.write_bytes(bytes(data))
    tampered = verify("replay", str(out), "--log-key", vkey)
    assert tampered.returncode == 1, tampered.stdout
    assert "FAIL" in tampered.stdout


@contextmanager
def _server(platform: Platform) -> Iterator[str]:
    config = uvicorn.Config(create_app(platform), host="127.0.0.1", port=PORT, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{PORT}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_portal_serves_the_log_and_proofs(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    base = len(platform.plans)  # the plans' rule versions are the first records
    _append(platform, clock, 5 - base)
    _append(platform, clock, 290, start=5 - base)
    with _server(platform) as base, httpx.Client(base_url=base) as http:
        vkey = http.get("/.well-known/huzhu-log-key").text.strip()
        assert vkey.startswith("huzhu.example/log+")
        latest = http.get("/api/v1/log/checkpoint").json()
        assert latest["tree_size"] == 295 and latest["log_key"] == vkey
        from huzhu_verify.note import Ed25519Verifier

        verifier = Ed25519Verifier.from_vkey(vkey)
        head = open_checkpoint(latest["checkpoint"].encode(), [verifier]).checkpoint
        assert http.get("/log/checkpoint").text == latest["checkpoint"]

        with platform.factory() as session:
            payload = session.scalar(select(PublicRecord.payload).where(PublicRecord.leaf_index == 3))
        proof = http.get("/api/v1/log/proof/inclusion", params={"index": 3, "tree_size": 5}).json()
        small = open_checkpoint(proof["checkpoint"].encode(), [verifier]).checkpoint
        assert small.size == 5
        verify_inclusion(leaf_hash(payload.encode()), 3, 5, [bytes.fromhex(h) for h in proof["proof"]],
                         small.root_hash)
        cons = http.get("/api/v1/log/proof/consistency", params={"from": 5, "to": 295}).json()
        verify_consistency(5, 295, [bytes.fromhex(h) for h in cons["proof"]], small.root_hash, head.root_hash)
        entry = http.get("/api/v1/log/entries/3").json()
        assert entry["entries"][0]["payload"] == payload and entry["tree_size"] == 295

        for path, params in (("/api/v1/log/proof/inclusion", {"index": 0, "tree_size": 296}),
                             ("/api/v1/log/proof/inclusion", {"index": 9, "tree_size": 5}),
                             ("/api/v1/log/proof/consistency", {"from": 6, "to": 5}),
                             ("/api/v1/log/proof/consistency", {"from": 1, "to": 400}),
                             ("/api/v1/log/entries/295", {})):
            refused = http.get(path, params=params)
            assert refused.status_code == 422, (path, params, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
        assert http.get("/log/tile/0/001.p/40").status_code == 404

        replay = verify("replay", f"{base}/log/", "--log-key", vkey)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        included = verify("inclusion", f"{base}/log/", "--index", "200", "--log-key", vkey)
        assert included.returncode == 0, included.stdout + included.stderr


def test_the_commands_publish_print_the_key_and_sign(platform: Platform, clock: FixedClock, tmp_path: Path,
                                                     database_url: str) -> None:
    from typer.testing import CliRunner

    from huzhu.cli import app
    from huzhu.config import get_settings

    _append(platform, clock, 10)
    env = {"HUZHU_DATABASE_URL": database_url, "HUZHU_MODE": "sandbox",
           "HUZHU_DATA_DIR": str(platform.settings.data_dir)}
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        key = runner.invoke(app, ["log", "key"], env=env)
        signed = runner.invoke(app, ["log", "checkpoint", "--no-witnesses"], env=env)
        published = runner.invoke(app, ["publish", str(tmp_path / "site")], env=env)
    finally:
        get_settings.cache_clear()
    with platform.factory() as session:
        vkey = session.info[SIGNER_INFO_KEY].verifier.vkey
        skey = session.info[SIGNER_INFO_KEY].skey
    assert key.exit_code == 0 and key.output.strip() == vkey
    assert signed.exit_code == 0 and signed.output.startswith("huzhu.example/log\n")
    assert published.exit_code == 0, published.output
    assert skey not in key.output + signed.output + published.output  # the private key is never printed
    replayed = verify("replay", str(tmp_path / "site"), "--log-key", vkey)
    assert replayed.returncode == 0, replayed.stdout


def test_log_checkpoint_and_jobs_run_ask_the_witnesses(platform: Platform, clock: FixedClock, tmp_path: Path,
                                                      database_url: str) -> None:
    import json as _json
    from http.server import ThreadingHTTPServer

    from typer.testing import CliRunner

    from huzhu.cli import app
    from huzhu.config import get_settings
    from huzhu.transparency.log import current_view
    from huzhu.witness_server import handler_for, load_or_make_cosigner, make_witness

    with platform.factory() as session:
        log_vkey = session.info[SIGNER_INFO_KEY].verifier.vkey
    cosigner = load_or_make_cosigner(tmp_path / "w.key", "auditor.example/w1")
    server = ThreadingHTTPServer(("127.0.0.1", WITNESS_PORT),
                                 handler_for(make_witness(cosigner, [log_vkey], tmp_path / "w.json")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {"HUZHU_DATABASE_URL": database_url, "HUZHU_MODE": "sandbox",
           "HUZHU_DATA_DIR": str(platform.settings.data_dir),
           "HUZHU_LOG_WITNESSES": _json.dumps([f"{cosigner.verifier.vkey} http://127.0.0.1:{WITNESS_PORT}"])}
    get_settings.cache_clear()
    try:
        _append(platform, clock, 4)
        signed = CliRunner().invoke(app, ["log", "checkpoint"], env=env)
        assert signed.exit_code == 0, signed.output
        assert "— auditor.example/w1 " in signed.output
        _append(platform, clock, 7, start=4)
        ran = CliRunner().invoke(app, ["jobs", "run"], env=env)
        assert ran.exit_code == 0, ran.output
    finally:
        get_settings.cache_clear()
        server.shutdown()
        server.server_close()
    with platform.read_factory() as session:
        view = current_view(session)
    assert "— auditor.example/w1 " in view.checkpoint  # the newest checkpoint, cosigned by jobs run
    state = _json.loads((tmp_path / "w.json").read_text())
    assert state["logs"]["huzhu.example/log"]["size"] == view.tree_size
