"""Open data: public cases, runs and the public record as CSV or JSON (no personal data)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.errors import ErrorCode, InvalidInput
from huzhu.messages import OneOf
from huzhu.money import format_yuan
from huzhu.notices.models import Case
from huzhu.notices.service import public_case_payload
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import tree_head

DATASETS = ("cases", "runs", "records")
EMPTY_HEADERS = {
    "cases": ["case_no", "plan", "benefit", "masked_name", "gender", "age", "province_zh", "province_en", "amount",
              "fee", "notice_starts_at", "notice_ends_at", "incident_summary", "investigation_summary", "status",
              "collected", "shortfall", "paid_at"],
    "runs": ["run_no", "as_of", "case_no", "benefit", "sharing_members", "paying_members", "cap_per_member",
             "share_per_member", "members_paying_one_fen_more", "members_limited_by_balance", "collected",
             "shortfall", "leftover_pivot_member", "shares_root"],
    "records": ["id", "kind", "subject", "recorded_at", "leaf_hash", "prev_hash", "payload"],
}


def case_rows(session: Session) -> Iterator[dict[str, Any]]:
    for case in session.scalars(select(Case).order_by(Case.id)).yield_per(1000):
        yield {
            **public_case_payload(case),
            "status": case.status,
            "collected": format_yuan(case.collected_fen) if case.collected_fen is not None else "",
            "shortfall": format_yuan(case.shortfall_fen) if case.shortfall_fen is not None else "",
            "paid_at": case.paid_at.isoformat() if case.paid_at else "",
        }


def run_rows(session: Session) -> Iterator[dict[str, Any]]:
    query = (
        select(RunCase, ApportionmentRun.run_no, ApportionmentRun.as_of, Case.case_no)
        .join(ApportionmentRun, ApportionmentRun.id == RunCase.run_id)
        .join(Case, Case.id == RunCase.case_id)
        .order_by(RunCase.id)
    )
    for rc, run_no, as_of, case_no in session.execute(query):
        yield {
            "run_no": run_no, "as_of": as_of.isoformat(), "case_no": case_no,
            "benefit": format_yuan(rc.benefit_fen), "sharing_members": rc.sharing_members,
            "paying_members": rc.paying_members, "cap_per_member": format_yuan(rc.cap_fen),
            "share_per_member": format_yuan(rc.level_fen), "members_paying_one_fen_more": rc.leftover_fen,
            "members_limited_by_balance": rc.members_limited_by_balance, "collected": format_yuan(rc.collected_fen),
            "shortfall": format_yuan(rc.shortfall_fen), "leftover_pivot_member": rc.leftover_pivot_member_id,
            "shares_root": rc.shares_root or "",
        }


def record_rows(session: Session, below: int | None = None) -> Iterator[dict[str, Any]]:
    """The public records in log order; with ``below``, only the first ``below`` leaves (those inside
    the checkpoint the export was read against)."""
    query = select(PublicRecord).order_by(PublicRecord.leaf_index)
    if below is not None:
        query = query.where(PublicRecord.leaf_index < below)
    for r in session.scalars(query).yield_per(5000):
        yield {"id": r.id, "kind": r.kind, "subject": r.subject, "recorded_at": r.recorded_at.isoformat(),
               "leaf_hash": r.leaf_hash, "prev_hash": r.prev_hash, "payload": r.payload}


def rows_for(session: Session, dataset: str, log_size: int | None = None) -> Iterator[dict[str, Any]]:
    if dataset == "records":
        return record_rows(session, log_size)
    return {"cases": case_rows, "runs": run_rows}[dataset](session)


def log_headers(session: Session) -> tuple[int, dict[str, str]]:
    """The served checkpoint an export of the public record is read against: its size (the export
    holds exactly the leaves below it) and HTTP headers naming it, the signed note in base64 (a note
    spans lines, a header cannot), so a reader can check the file against the log."""
    head = tree_head(session)
    headers = {"Huzhu-Log-Tree-Size": str(head["tree_size"]), "Huzhu-Log-Root-Hash": head["root_hash"]}
    if head["checkpoint"]:
        headers["Huzhu-Log-Checkpoint"] = base64.b64encode(head["checkpoint"].encode()).decode("ascii")
    return head["tree_size"], headers


class ExportError(ErrorCode):
    DATASET = ("exports.dataset", "dataset must be one of %(datasets)s")
    FORMAT = ("exports.format", "format must be csv or json")


# Excel on Chinese Windows reads a CSV file without a byte-order mark as GBK and garbles every
# Chinese name; with the UTF-8 BOM it reads UTF-8. Python (``encoding="utf-8-sig"``), pandas and
# LibreOffice skip it.
BOM = "\ufeff"


def export(session: Session, dataset: str, fmt: str, *, log_size: int | None = None) -> str:
    if dataset not in DATASETS:
        raise InvalidInput(ExportError.DATASET, datasets=OneOf(DATASETS))
    rows = list(rows_for(session, dataset, log_size))
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    if fmt != "csv":
        raise InvalidInput(ExportError.FORMAT)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else EMPTY_HEADERS[dataset])
    writer.writeheader()  # even with no rows, so a reader knows the columns
    writer.writerows(rows)
    return BOM + out.getvalue()
