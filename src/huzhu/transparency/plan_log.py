"""Plan rule versions in the public log: a plan's rules are loaded from its file; the first time the
platform starts with a version of a plan's rules, a ``plan_rules`` record names the plan, its version
and the SHA-256 of its canonical JSON (``huzhu.plans.loader.plan_digest``), so rules cannot be changed
afterwards without the log showing it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.plans.loader import plan_digest
from huzhu.plans.schemas import Plan
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import append_record

KIND = "plan_rules"


def log_plan_rules(session: Session, plans: Mapping[str, Plan], *, now: datetime) -> int:
    """Append a ``plan_rules`` record for each plan whose current rules digest is not logged yet."""
    seen = {(p.get("plan"), p.get("rules_sha256")) for p in
            (json.loads(payload) for payload in session.scalars(select(PublicRecord.payload)
                                                                .where(PublicRecord.kind == KIND)))}
    added = 0
    for code in sorted(plans):
        plan = plans[code]
        digest = plan_digest(plan)
        if (code, digest) not in seen:
            append_record(session, kind=KIND, subject=code,
                          payload={"plan": code, "version": plan.version, "rules_sha256": digest}, now=now)
            added += 1
    return added
