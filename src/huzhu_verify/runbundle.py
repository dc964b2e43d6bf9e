"""``huzhu-verify run R --bundle DIR``: recompute a whole run offline from its static bundle.

The bundle (``manifest.json`` + one run file per case, see the platform's ``provable.bundle``) is
checked against the public-log records it carries: each record's leaf hash is recomputed from its
payload (RFC 6962: ``SHA-256(0x00 ‖ payload)``, provable in the signed log with ``huzhu-verify
inclusion``); each case's run file must have the SHA-256 and the share-tree root its ``run_sum_root``
record holds, and is recomputed fen by fen (``runcheck.recompute``); every difference is printed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from huzhu_verify.runcheck import recompute
from huzhu_verify.sumtree import (
    MalformedInput,
    SumMismatch,
    SumRoot,
    VerificationError,
    format_yuan,
    parse_yuan,
)

FORMAT = "huzhu-run-bundle/1"


class BundleDifference(VerificationError):
    code = "run_differs"


def load_records(bundle: Path, run_no: str) -> list[dict[str, Any]]:
    manifest_path = bundle / "manifest.json"
    if not manifest_path.exists():
        raise MalformedInput(f"{manifest_path} does not exist")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise MalformedInput(f"the manifest's format is {manifest.get('format')!r}, not {FORMAT!r}")
    if manifest.get("run_no") != run_no:
        raise MalformedInput(f"the bundle is for run {manifest.get('run_no')}, not {run_no}")
    records = []
    for item in manifest.get("records", []):
        payload = item["payload"]
        leaf = hashlib.sha256(b"\x00" + payload.encode("utf-8")).hexdigest()
        if leaf != item["leaf_hash"]:
            raise SumMismatch(f"log record {item['leaf_index']}: the payload does not hash to its leaf hash")
        records.append({**item, "body": json.loads(payload)})
    return records


def run_command(args: Any, report: Any) -> None:
    from huzhu_verify.cli import CheckFailed
    bundle, run_no = Path(args.bundle), args.run_no
    with report.check("bundle records") as step:
        records = load_records(bundle, run_no)
        step.detail = f"{len(records)} public-log records, leaf hashes recomputed from their payloads"
    run = [r["body"] for r in records if r["kind"] == "run"]
    roots = {r["body"]["case_no"]: r for r in records if r["kind"] == "run_sum_root"}
    rules = [r["body"] for r in records if r["kind"] == "leftover_rule"]
    for rule in rules:
        report.info(f"leftover rule {rule['version']} ({rule['order_by']}) effective from {rule['effective_from']}")
    cases = run[0]["cases"] if run else sorted(roots)
    failed = 0
    for case_no in cases:
        record = roots.get(case_no)
        if record is None:
            report.info(f"case {case_no}: shared under rule 1 (no run file published); not recomputable here")
            continue
        body = record["body"]
        path = bundle / f"{case_no}.tsv"
        try:
            with report.check(f"case {case_no}") as step:
                if not path.exists():
                    raise MalformedInput(f"{path.name} is missing from the bundle")
                result = recompute(path, expected_root=SumRoot.from_json(body["root"]),
                                   expected_digest=bytes.fromhex(body["inputs_sha256"]))
                if not result.ok:
                    raise BundleDifference(result.summary())
                assert result.computed is not None and result.root is not None
                step.detail = (f"{result.lines} sharers, level {format_yuan(result.computed.level)}, "
                               f"{result.computed.leftover} pay one fen more, collected "
                               f"{format_yuan(result.computed.collected)} = root sum over {result.root.count} leaves "
                               f"(log record {record['leaf_index']}, leaf {record['leaf_hash'][:16]}…)")
        except CheckFailed:  # reported; the next case is still checked
            failed += 1
    if run:
        with report.check("run totals") as step:
            collected = sum(parse_yuan(r["body"]["collected"], what="collected") for r in roots.values())
            published = run[0]["total_collected"]
            if len(roots) == len(cases) and format_yuan(collected) != published:
                raise SumMismatch(f"the cases' collected amounts add up to {format_yuan(collected)}, "
                                  f"the run publishes {published}")
            step.detail = f"run {run_no}: {len(cases)} cases, total collected {published}"
    if failed:
        report.info(f"{failed} case(s) differ")


def add_arguments(parser: Any) -> None:
    parser.add_argument("run_no", help="the run number, e.g. R000002")
    parser.add_argument("--bundle", required=True, type=Path, help="the run's static bundle directory")
