"""Receipts, objections and plan rules in the public log (issue 9 §5-6): filing an objection or a claim
over the API returns the log's signed promise of inclusion, which ``huzhu-verify receipt`` checks
against the published log; a forged or unkept promise fails. Objections and their outcomes, claims
and plan rule versions are leaves; case pages mark each record as checked against the signed log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import select, update

from huzhu.accounts import service as accounts
from huzhu.api.views import case_detail_public
from huzhu.app import build_platform
from huzhu.casework import service as casework
from huzhu.clock import FixedClock
from huzhu.notices import service as notices
from huzhu.notices.models import Case, Objection
from huzhu.plans.loader import plan_digest
from huzhu.platform import Platform
from huzhu.transparency.log import SIGNER_INFO_KEY, issue_receipt, verified_records
from huzhu.transparency.merkle import leaf_hash
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.publish import publish_tiles
from huzhu_verify.note import Ed25519Signer
from huzhu_verify.receipt import Receipt, sign_receipt

from .helpers import ACCIDENT, approve, at, file_and_investigate, join_member, make_staff

SRC = str(Path(__file__).resolve().parents[2] / "src")


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huzhu_verify", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120)


def test_plan_rule_versions_are_logged_once(platform: Platform) -> None:
    with platform.factory() as s:
        rows = [json.loads(p) for p in s.scalars(select(PublicRecord.payload).where(PublicRecord.kind == "plan_rules"))]
    assert sorted((r["plan"], r["rules_sha256"]) for r in rows) == sorted(
        (code, plan_digest(plan)) for code, plan in platform.plans.items())
    again = build_platform(platform.settings, clock=platform.clock)  # a restart logs nothing new
    with again.factory() as s:
        assert len(list(s.scalars(select(PublicRecord.id).where(PublicRecord.kind == "plan_rules")))) == len(rows)
    again.engine.dispose()


def test_objection_and_claim_receipts_are_kept_and_checkable(platform: Platform, clock: FixedClock,
                                                            tmp_path: Path) -> None:
    staff = make_staff(platform, clock)
    claimant = join_member(platform, clock, name="申请人", plans=(ACCIDENT,))
    objector = join_member(platform, clock, name="会员", plans=(ACCIDENT,))
    clock.set(at("2015-03-05"))
    claim_id = file_and_investigate(platform, clock, staff, claimant, plan=ACCIDENT, benefit="accidental_death",
                                    incident=date(2015, 3, 3))
    case_id = approve(platform, clock, staff, claim_id)
    with platform.session() as s:
        case_no = s.get(Case, case_id).case_no
        objection = notices.file_objection(s, actor=accounts.account_or_raise(s, objector.account_id),
                                           case_id=case_id, member_id=objector.member_id, reason="请核实事故经过。",
                                           now=clock.now())
        receipt = issue_receipt(s, kind="objection_filed", subject=case_no, now=clock.now())
        objection_id = objection.id
    with platform.session() as s:
        casework.resolve_objection(s, actor=accounts.account_or_raise(s, staff.reviewer2_id),
                                   objection_id=objection_id, upheld=False, note="调查报告已核实。", now=clock.now())
    assert receipt is not None and receipt.startswith("huzhu-receipt/v1\n")
    with platform.factory() as s:
        kinds = list(s.scalars(select(PublicRecord.kind).where(PublicRecord.subject == case_no)
                               .order_by(PublicRecord.leaf_index)))
        assert "claim_filed" in set(s.scalars(select(PublicRecord.kind)))
    assert kinds[-2:] == ["objection_filed", "objection_dismissed"]

    site = tmp_path / "site"
    with platform.read_factory() as s:
        signer: Ed25519Signer = s.info[SIGNER_INFO_KEY]
        publish_tiles(s, site, signer, durable=False)
    vkey = signer.verifier.vkey
    receipt_file = tmp_path / "receipt"
    receipt_file.write_text(receipt)
    kept = verify("receipt", str(receipt_file), str(site), "--log-key", vkey)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    # A promise the log did not keep (another leaf at that index) and one signed by another key fail.
    lines = receipt.split("\n")
    index = int(lines[2].split()[1])
    unkept = Receipt(signer.name, index, leaf_hash(b"something else"), "2015-03-05T02:00:00Z")
    receipt_file.write_bytes(sign_receipt(unkept, signer))
    broken = verify("receipt", str(receipt_file), str(site), "--log-key", vkey)
    assert broken.returncode == 1 and "FAIL  promise kept" in broken.stdout, broken.stdout
    impostor = Ed25519Signer.generate(signer.name)
    receipt_file.write_bytes(sign_receipt(unkept, impostor))
    forged = verify("receipt", str(receipt_file), str(site), "--log-key", vkey)
    assert forged.returncode == 1 and "FAIL  receipt signature" in forged.stdout, forged.stdout

    # The API's case answer checks each objection against the log; an edit of the table shows.
    with platform.factory() as s:
        detail = case_detail_public(s, s.get(Case, case_id))
    assert [o.in_log for o in detail.objections] == [True]
    assert detail.public_records and all(r.in_log for r in detail.public_records)
    assert detail.tree_size > max(r.index for r in detail.public_records) and detail.checkpoint
    with platform.session() as s:
        s.execute(update(Objection).where(Objection.id == objection_id).values(reason="请核实事故经过，另有隐情。"))
    with platform.factory() as s:
        assert [o.in_log for o in case_detail_public(s, s.get(Case, case_id)).objections] == [False]

    # Case pages: each record is checked against the signed log; an edited one is marked.
    with platform.factory() as s:
        records = list(s.scalars(select(PublicRecord).where(PublicRecord.subject == case_no)))
        assert all(verified_records(s, records).values())
    with platform.session() as s:
        target = s.scalar(select(PublicRecord).where(PublicRecord.subject == case_no,
                                                     PublicRecord.kind == "objection_dismissed"))
        forged_payload = target.payload.replace("调查报告已核实", "无需调查")
        s.execute(update(PublicRecord).where(PublicRecord.id == target.id).values(
            payload=forged_payload, leaf_hash=leaf_hash(forged_payload.encode()).hex()))
    with platform.factory() as s:
        records = list(s.scalars(select(PublicRecord).where(PublicRecord.subject == case_no)))
        marks = verified_records(s, records)
    assert [r.kind for r in records if not marks[r.leaf_index]] == ["objection_dismissed"]
