"""The huzhu-verify command in-process: its entry point, the report, and room for new subcommands."""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import io
import tomllib
from pathlib import Path

import pytest

from huzhu.transparency.tiles import TileLogWriter
from huzhu_verify import cli
from huzhu_verify.errors import VerificationError
from huzhu_verify.note import Ed25519Signer
from huzhu_verify.tiles import DirectoryTileReader, TileHashReader

REPO = Path(__file__).resolve().parents[2]
LOG = Ed25519Signer("huzhu.test/log", hashlib.sha256(b"cli").digest())


def test_console_script_is_declared_and_resolves() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attribute = scripts["huzhu-verify"].partition(":")
    assert getattr(importlib.import_module(module), attribute) is cli.main


@pytest.fixture
def log(tmp_path: Path) -> Path:
    with TileLogWriter(tmp_path / "log", LOG, durable=False) as writer:
        writer.append(b"entry %d" % i for i in range(300))
        writer.publish()
    return tmp_path / "log"


def _run(*args: str | Path) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main([str(a) for a in args], out=out)
    return code, out.getvalue()


def test_report_lists_each_check_and_the_result(log: Path) -> None:
    code, text = _run("inclusion", log, "--index", "299", "--log-key", LOG.verifier.vkey)
    lines = text.splitlines()
    assert code == 0
    assert lines[0] == "huzhu-verify inclusion"
    assert [line.split(":")[0] for line in lines[1:-1]] == [
        "PASS  inputs", "PASS  log signature", "PASS  witness quorum", "PASS  entry", "PASS  inclusion proof"]
    assert lines[-1] == "RESULT: PASS"


def test_first_failure_stops_the_command_with_exit_1(log: Path) -> None:
    code, text = _run("inclusion", log, "--index", "300", "--log-key", LOG.verifier.vkey)
    assert code == 1
    assert "FAIL  entry: entry 300 is not in the tree of size 300" in text
    assert "inclusion proof" not in text and text.endswith("RESULT: FAIL\n")


def test_leaf_hash_and_entry_file_are_checked(log: Path, tmp_path: Path) -> None:
    right = hashlib.sha256(b"\x00entry 7").hexdigest()
    assert _run("inclusion", log, "--index", "7", "--leaf-hash", right, "--log-key", LOG.verifier.vkey)[0] == 0
    (tmp_path / "claimed").write_bytes(b"entry 8")
    code, text = _run("inclusion", log, "--index", "7", "--entry-file", tmp_path / "claimed",
                      "--log-key", LOG.verifier.vkey)
    assert code == 1 and "FAIL  inclusion proof" in text


def test_consistency_with_given_size_and_root(log: Path) -> None:
    old_root = TileHashReader(DirectoryTileReader(log), 300).tree_hash(100)
    args = ("consistency", log, "--old-size", "100", "--log-key", LOG.verifier.vkey)
    assert _run(*args, "--old-root", base64.b64encode(old_root).decode())[0] == 0
    assert _run(*args, "--old-root", base64.b64encode(bytes(32)).decode())[0] == 1
    code, text = _run("consistency", log, "--log-key", LOG.verifier.vkey)
    assert code == 1 and "give --old FILE, or both --old-size and --old-root" in text


def test_a_new_subcommand_plugs_into_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("bundle")

    def run(args: argparse.Namespace, report: cli.Report) -> None:
        with report.check("sum tree") as step:
            seen.append(args.bundle)
            step.detail = "collected = sum of shares"
        with report.check("leaves"):
            raise VerificationError("leaf 3 is negative")

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, cli.Command("example", "check an example", add_arguments, run)])
    code, text = _run("example", "bundle-dir")
    assert seen == ["bundle-dir"] and code == 1
    assert "PASS  sum tree: collected = sum of shares" in text and "FAIL  leaves: leaf 3 is negative" in text


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["checkpoint"], out=io.StringIO())
    assert caught.value.code == 2
