"""The static bundle of one run's public data: ``huzhu-verify run R --bundle DIR`` recomputes it offline.

Layout: ``manifest.json`` (format ``huzhu-run-bundle/1``: the run number and the public-log records
it rests on, each as its leaf index, leaf hash and canonical payload: the published leftover rule,
the run, each case's ``case_shared`` and ``run_sum_root``) and one run file ``<case_no>.tsv`` per
case shared under rule 2. The verifier trusts nothing in the bundle but the records, whose leaf
hashes can be proved in the signed log (``huzhu-verify inclusion``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from huzhu.apportionment.errors import ApportionmentError
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.apportionment.shares import published_rule
from huzhu.errors import NotFound
from huzhu.money import format_yuan
from huzhu.notices.models import Case
from huzhu.provable.models import SumTree
from huzhu.provable.service import RULE_RECORD, RUN_ROOT_RECORD, root_json
from huzhu.provable.store import tree_paths
from huzhu.transparency.models import PublicRecord
from huzhu_verify.leftover import RULE_V2

FORMAT = "huzhu-run-bundle/1"


def run_inputs(session: Session, run_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(RunCase, Case.case_no, SumTree).join(Case, Case.id == RunCase.case_id)
                           .outerjoin(SumTree, SumTree.run_case_id == RunCase.id)
                           .where(RunCase.run_id == run_id).order_by(Case.case_no)).all()
    items = []
    for rc, case_no, tree in rows:
        item: dict[str, Any] = {"case_no": case_no, "rule": rc.rule_version, "benefit": format_yuan(rc.benefit_fen),
                                "cap": format_yuan(rc.cap_fen), "collected": format_yuan(rc.collected_fen),
                                "sharing_members": rc.sharing_members, "paying_members": rc.paying_members}
        if tree is not None:
            item.update(root=root_json(tree), inputs_sha256=tree.inputs_sha256)
        items.append(item)
    return items


def export_run_bundle(session: Session, run_no: str, out: Path) -> dict[str, Any]:
    run = session.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == run_no))
    if run is None:
        raise NotFound(ApportionmentError.NO_SUCH_RUN, run=run_no)
    out.mkdir(parents=True, exist_ok=True)
    cases = session.execute(select(Case.case_no, RunCase.rule_version).join(RunCase, RunCase.case_id == Case.id)
                            .where(RunCase.run_id == run.id).order_by(Case.case_no)).all()
    subjects = [c for c, _ in cases]
    records = session.scalars(select(PublicRecord).where(or_(
        PublicRecord.kind == RULE_RECORD,
        (PublicRecord.kind == "run") & (PublicRecord.subject == run_no),
        PublicRecord.kind.in_(("case_shared", RUN_ROOT_RECORD)) & PublicRecord.subject.in_(subjects),
    )).order_by(PublicRecord.leaf_index)).all()
    files = []
    for case_no, rule in cases:
        source = tree_paths(session, "share", case_no)["inputs"]
        if rule == 2 and source.exists():
            shutil.copyfile(source, out / f"{case_no}.tsv")
            files.append(f"{case_no}.tsv")
    manifest: dict[str, Any] = {"format": FORMAT, "run_no": run_no, "files": files,
                "records": [{"leaf_index": r.leaf_index, "kind": r.kind, "leaf_hash": r.leaf_hash,
                             "payload": r.payload} for r in records]}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def run_rule_version(session: Session, run_id: int) -> int:
    """The leftover-fen rule a run used (every case of a run is shared under the same rule)."""
    return session.scalar(select(func.max(RunCase.rule_version)).where(RunCase.run_id == run_id)) or 1


def run_rule_text(session: Session, run_id: int, *, chinese: bool = False) -> str:
    """The published text of the run's rule: rule 1's (translated by the page) or rule 2's own."""
    if run_rule_version(session, run_id) == 2:
        return RULE_V2.text_zh if chinese else RULE_V2.text_en
    return published_rule()
