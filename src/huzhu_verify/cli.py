"""``huzhu-verify``: check huzhu's public log offline, from its published files alone.

Every subcommand prints one ``PASS`` or ``FAIL`` line per check and a final ``RESULT``; the exit
status is 0 only if every check passed (1 if one failed, 2 for a usage error). Trust comes from
a policy file (``--policy``, tlog-policy format, see :mod:`huzhu_verify.policy`) or, without
witnesses, from the log's verifier key (``--log-key``).

SOURCE is a tile directory or an ``http(s)://`` prefix serving ``checkpoint`` and ``tile/…``.

    huzhu-verify checkpoint  SOURCE|FILE             signature and witness quorum
    huzhu-verify inclusion   SOURCE --index N        an entry is in the signed tree
    huzhu-verify consistency SOURCE --old FILE       the signed tree extends an older one
    huzhu-verify replay      SOURCE                  recompute every leaf, tile and the root
    huzhu-verify monitor     SOURCE --state FILE     remember checkpoints; fail on fork/rollback
    huzhu-verify receipt     FILE SOURCE             a receipt's promised entry is in the signed tree

Subcommands are entries of :data:`COMMANDS`; a new one adds a :class:`Command` there.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from huzhu_verify import runbundle
from huzhu_verify._util import b64decode_strict, b64encode
from huzhu_verify.checkpoint import Checkpoint, open_checkpoint
from huzhu_verify.errors import HistoryError, MalformedError, VerificationError
from huzhu_verify.merkle import leaf_hash, verify_consistency, verify_inclusion
from huzhu_verify.monitor import Monitor, MonitorState, check_tiles_match
from huzhu_verify.policy import Policy, VerifiedCheckpoint, load_policy, parse_policy
from huzhu_verify.receipt import check_receipt, open_receipt
from huzhu_verify.tiles import TileHashReader, TileReader, open_tile_reader, replay

__all__ = ["COMMANDS", "Command", "Report", "main"]


# --- reporting -----------------------------------------------------------------------------------


class CheckFailed(Exception):
    """A check failed and was reported; the command stops."""


@dataclass
class Step:
    detail: str = ""


@dataclass
class Report:
    """PASS/FAIL lines for one run, and the exit status they add up to."""

    out: TextIO
    failures: int = 0
    lines: list[str] = field(default_factory=list)

    def _emit(self, status: str, name: str, detail: str) -> None:
        line = f"{status:<5} {name}" + (f": {detail}" if detail else "")
        self.lines.append(line)
        print(line, file=self.out, flush=True)

    def info(self, text: str) -> None:
        print(f"      {text}", file=self.out, flush=True)

    @contextmanager
    def check(self, name: str) -> Iterator[Step]:
        """Run one check: PASS with ``step.detail`` if the block finishes, FAIL with the error if not."""
        step = Step()
        try:
            yield step
        except VerificationError as exc:
            self.failures += 1
            self._emit("FAIL", name, str(exc))
            raise CheckFailed(name) from exc
        except ValueError as exc:  # inconsistent inputs (sizes out of range, bad hex)
            self.failures += 1
            self._emit("FAIL", name, str(exc))
            raise CheckFailed(name) from exc
        self._emit("PASS", name, step.detail)

    def finish(self) -> int:
        verdict = "FAIL" if self.failures else "PASS"
        print(f"RESULT: {verdict}", file=self.out, flush=True)
        return 1 if self.failures else 0


# --- shared inputs -------------------------------------------------------------------------------


def _add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    trust = parser.add_mutually_exclusive_group(required=True)
    trust.add_argument("--policy", type=Path, help="tlog-policy file: log key(s), witnesses, quorum")
    trust.add_argument("--log-key", help="the log's verifier key (no witnesses required)")


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="tile directory or http(s):// prefix of the log")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file to use instead of SOURCE/checkpoint")
    _add_trust_arguments(parser)


def _policy(args: argparse.Namespace) -> Policy:
    if args.policy is not None:
        return load_policy(args.policy)
    return parse_policy(f"log {args.log_key}\nquorum none\n")


def _read_checkpoint_bytes(args: argparse.Namespace, reader: TileReader | None) -> bytes:
    if args.checkpoint is not None:
        try:
            checkpoint: Path = args.checkpoint
            return checkpoint.read_bytes()
        except OSError as exc:
            raise MalformedError(f"cannot read the checkpoint file {args.checkpoint}: {exc.strerror}") from None
    assert reader is not None
    return reader.read_checkpoint()


def _verify_checkpoint(report: Report, policy: Policy, raw: bytes) -> VerifiedCheckpoint:
    with report.check("log signature") as step:
        signed = open_checkpoint(raw, [log.verifier for log in policy.logs])
        cp = signed.checkpoint
        keys = ", ".join(f"{s.name} ({s.key_hash:08x})" for s in signed.note.signatures)
        step.detail = f"{cp.origin}, size {cp.size}, root {cp.root_b64}, signed by {keys}"
    with report.check("witness quorum") as step:
        verified = policy.verify_checkpoint(raw)
        cosigned = ", ".join(f"{name} at {_utc(ts)}" for name, ts in sorted(verified.cosigners.items()))
        step.detail = f"{policy.describe_quorum()}; cosigned by {cosigned or 'nobody'}"
    return verified


def _utc(timestamp: int) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"POSIX time {timestamp}"


def _load_source(report: Report, args: argparse.Namespace) -> tuple[TileReader, VerifiedCheckpoint]:
    with report.check("inputs") as step:
        policy = _policy(args)
        reader = open_tile_reader(args.source)
        raw = _read_checkpoint_bytes(args, reader)
        step.detail = f"log files from {reader.location}"
    return reader, _verify_checkpoint(report, policy, raw)


# --- subcommands ---------------------------------------------------------------------------------


def _checkpoint_bytes_from(location: str) -> tuple[bytes, str]:
    """A checkpoint file, a tile directory, or a URL (prefix or …/checkpoint)."""
    if location.startswith(("http://", "https://")):
        prefix = location[: -len("checkpoint")] if location.endswith("/checkpoint") else location
        reader = open_tile_reader(prefix)
        return reader.read_checkpoint(), reader.location
    path = Path(location)
    if path.is_dir():
        return open_tile_reader(path).read_checkpoint(), str(path)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise MalformedError(f"cannot read {path}: {exc.strerror}") from None


def run_checkpoint(args: argparse.Namespace, report: Report) -> None:
    with report.check("inputs") as step:
        policy = _policy(args)
        raw, where = _checkpoint_bytes_from(args.source)
        step.detail = f"checkpoint from {where}"
    _verify_checkpoint(report, policy, raw)


def run_inclusion(args: argparse.Namespace, report: Report) -> None:
    reader, verified = _load_source(report, args)
    cp = verified.checkpoint
    tiles = TileHashReader(reader, cp.size)
    with report.check("entry") as step:
        if not 0 <= args.index < cp.size:
            raise VerificationError(f"entry {args.index} is not in the tree of size {cp.size}")
        if args.leaf_hash is not None:
            leaf = bytes.fromhex(args.leaf_hash)
            step.detail = f"leaf hash {leaf.hex()} (given)"
        else:
            entry = args.entry_file.read_bytes() if args.entry_file else tiles.entry(args.index)
            leaf = leaf_hash(entry)
            origin = f"from {args.entry_file}" if args.entry_file else "from its entry bundle"
            step.detail = f"{len(entry)} bytes {origin}, leaf hash {leaf.hex()}"
    if args.show_entry and args.leaf_hash is None:
        report.info(entry.decode("utf-8", "replace"))
    with report.check("inclusion proof") as step:
        proof = tiles.inclusion_proof(args.index)
        verify_inclusion(leaf, args.index, cp.size, proof, cp.root_hash)
        step.detail = f"entry {args.index} is in {cp.origin} at size {cp.size} ({len(proof)} hashes from tiles)"


def _old_tree(args: argparse.Namespace, policy: Policy) -> tuple[int, bytes, str]:
    if args.old is not None:
        try:
            raw = args.old.read_bytes()
        except OSError as exc:
            raise MalformedError(f"cannot read {args.old}: {exc.strerror}") from None
        old = open_checkpoint(raw, [log.verifier for log in policy.logs]).checkpoint
        return old.size, old.root_hash, f"signed checkpoint {args.old}"
    if args.old_size is None or args.old_root is None:
        raise MalformedError("give --old FILE, or both --old-size and --old-root")
    return args.old_size, b64decode_strict(args.old_root, "--old-root"), "given size and root"


def run_consistency(args: argparse.Namespace, report: Report) -> None:
    reader, verified = _load_source(report, args)
    cp = verified.checkpoint
    with report.check("old tree") as step:
        old_size, old_root, where = _old_tree(args, _policy(args))
        step.detail = f"size {old_size}, root {b64encode(old_root)} ({where})"
    with report.check("consistency proof") as step:
        if old_size == 0:
            step.detail = "every tree extends the empty tree"
        else:
            proof = TileHashReader(reader, cp.size).consistency_proof(old_size) if old_size <= cp.size else []
            verify_consistency(old_size, cp.size, proof, old_root, cp.root_hash)
            step.detail = f"size {cp.size} extends size {old_size} ({len(proof)} hashes from tiles)"


def run_replay(args: argparse.Namespace, report: Report) -> None:
    reader, verified = _load_source(report, args)
    cp: Checkpoint = verified.checkpoint
    with report.check("replay") as step:
        result = replay(reader, cp, workers=max(1, args.jobs))
        step.detail = (
            f"{result.entries} entries ({result.entry_bytes} bytes) re-hashed, {result.tiles} tiles recomputed, "
            f"root {b64encode(result.root_hash)} = checkpoint"
        )


def run_monitor(args: argparse.Namespace, report: Report) -> None:
    with report.check("inputs") as step:
        policy = _policy(args)
        reader = open_tile_reader(args.source)
        raw = _read_checkpoint_bytes(args, reader)
        state = MonitorState(args.state)
        step.detail = f"log files from {reader.location}, state {args.state}"
    verified = _verify_checkpoint(report, policy, raw)
    with report.check("tiles match checkpoint") as step:
        check_tiles_match(TileHashReader(reader, verified.checkpoint.size), verified)
        step.detail = f"tree hash from tiles = {verified.checkpoint.root_b64}"
    try:
        with report.check("append-only history") as step:
            result = Monitor(state, policy).check(raw, reader)
            proof = f", consistency proof of {result.proof_length} hashes" if result.proof_length else ""
            step.detail = f"{result.status}{proof}; state saved"
    except CheckFailed as failed:
        _print_evidence(report, failed.__cause__)
        raise


def run_receipt(args: argparse.Namespace, report: Report) -> None:
    with report.check("receipt signature") as step:
        policy = _policy(args)
        try:
            raw = args.receipt.read_bytes()
        except OSError as exc:
            raise MalformedError(f"cannot read the receipt {args.receipt}: {exc.strerror}") from None
        receipt = open_receipt(raw, [log.verifier for log in policy.logs])
        step.detail = (f"{receipt.origin} promised entry {receipt.index} with leaf hash "
                       f"{receipt.leaf_hash.hex()} at {receipt.time}")
    reader, verified = _load_source(report, args)
    cp = verified.checkpoint
    with report.check("promise kept") as step:
        proof = TileHashReader(reader, cp.size).inclusion_proof(receipt.index) if receipt.index < cp.size else []
        check_receipt(receipt, cp, proof)
        step.detail = f"entry {receipt.index} is in {cp.origin} at size {cp.size} ({len(proof)} hashes from tiles)"


def _print_evidence(report: Report, error: BaseException | None) -> None:
    """Two checkpoints signed by the log that contradict each other prove misbehaviour: show both."""
    if not isinstance(error, HistoryError) or not error.evidence:
        return
    report.info("evidence (both signed by the log; keep them): the checkpoint verified earlier, then the new one")
    for note in error.evidence:
        for line in note.decode("utf-8", "replace").splitlines():
            report.info("  " + line)
        report.info("")


# --- wiring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, its arguments and the function that runs it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Report], None]


def _args_checkpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="checkpoint file, tile directory, or http(s):// URL")
    _add_trust_arguments(p)


def _args_inclusion(p: argparse.ArgumentParser) -> None:
    _add_source_arguments(p)
    p.add_argument("--index", type=int, required=True, help="the entry's index in the log (from 0)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--entry-file", type=Path, help="the entry's exact bytes, to check against the log")
    what.add_argument("--leaf-hash", help="the entry's leaf hash in hex, instead of its bytes")
    p.add_argument("--show-entry", action="store_true", help="print the entry read from the log")


def _args_consistency(p: argparse.ArgumentParser) -> None:
    _add_source_arguments(p)
    p.add_argument("--old", type=Path, help="an earlier signed checkpoint of the same log")
    p.add_argument("--old-size", type=int, help="earlier tree size (with --old-root)")
    p.add_argument("--old-root", help="earlier root hash, base64")


def _args_receipt(p: argparse.ArgumentParser) -> None:
    p.add_argument("receipt", type=Path, help="the receipt (a signed note) the platform returned")
    _add_source_arguments(p)


def _args_replay(p: argparse.ArgumentParser) -> None:
    _add_source_arguments(p)
    p.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 8),
                   help="processes hashing the entries (default: one per CPU, at most 8; 1 = this process only)")


def _args_monitor(p: argparse.ArgumentParser) -> None:
    _add_source_arguments(p)
    p.add_argument("--state", type=Path, required=True, help="JSON file remembering verified checkpoints")


COMMANDS: list[Command] = [
    Command("checkpoint", "verify a checkpoint's log signature and witness quorum", _args_checkpoint, run_checkpoint),
    Command("inclusion", "prove that an entry is in the signed tree", _args_inclusion, run_inclusion),
    Command("consistency", "prove that the signed tree extends an older one", _args_consistency, run_consistency),
    Command("replay", "recompute every leaf hash, tile and the root from the entries", _args_replay, run_replay),
    Command("receipt", "check that the log kept a receipt's promise of inclusion", _args_receipt, run_receipt),
    Command("monitor", "check a new checkpoint against the last one remembered", _args_monitor, run_monitor),
    Command("run", "recompute a whole apportionment run from its static bundle, fen by fen",
            runbundle.add_arguments, runbundle.run_command),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huzhu-verify",
        description="Verify huzhu's public transparency log offline (C2SP checkpoints, tiles, witnesses).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.set_defaults(run=command.run, command_name=command.name)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Entry point of ``huzhu-verify``; returns the exit status."""
    args = build_parser().parse_args(argv)
    report = Report(out or sys.stdout)
    print(f"huzhu-verify {args.command_name}", file=report.out)
    try:
        args.run(args, report)
    except CheckFailed:
        pass
    return report.finish()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
