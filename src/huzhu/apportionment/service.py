"""Apportionment runs: every due case shared across its plan's members, set-based in SQL.

One run is one database transaction: a crash anywhere leaves the whole run or nothing. A case
is shared at most once (its share transfer's idempotency key is the case number, and only cases
still in notice are picked), so running the job twice charges nobody twice.

Per case: the sharing members' capacities ``min(cap, available balance)`` go into a temporary
table; their histogram (≤ cap + 1 rows) gives the equal share (``shares.allocate_level``); the
ledger's bulk transfer (``ledger.bulk``) writes every member's debit leg from a query over that
table and moves the balances set-based, then credits the case pool and checks the totals.
No Python object per member.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    LargeBinary,
    Select,
    and_,
    column,
    func,
    literal,
    or_,
    select,
    table,
    text,
)
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session

from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.apportionment.shares import Allocation, allocate_level, leftover_pivot, published_rule
from huzhu.claims.models import Claim
from huzhu.clock import business_date
from huzhu.db import is_sqlite
from huzhu.failpoints import failpoint
from huzhu.ledger.bulk import begin_bulk_transfer
from huzhu.ledger.models import CREDIT, DEBIT
from huzhu.members.service import suspend_underfunded
from huzhu.money import format_yuan
from huzhu.notices.models import Case, CaseStatus
from huzhu.notices.service import due_cases
from huzhu.numbering import next_number
from huzhu.plans.schemas import Plan
from huzhu.provable.service import ensure_member_secrets, publish_case_tree, rule_for_run
from huzhu.transparency.merkle import StreamingRoot, inclusion_proof, leaf_hash, root_from_leaf_hashes
from huzhu.transparency.service import append_record
from huzhu_verify.leftover import RULE_V2, pivot_point

Progress = Callable[[str], None]

# The sharing members of the case being shared (a temporary table, one transaction long).
SHARE_POOL = table("share_pool", column("member_id", BigInteger), column("account_id", BigInteger),
                   column("capacity", BigInteger), column("pseudonym", LargeBinary), column("secret", LargeBinary))


def _prepare_pool_table(session: Session) -> None:
    if is_sqlite(session):
        session.execute(text(
            "CREATE TEMP TABLE IF NOT EXISTS share_pool "
            "(member_id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, capacity INTEGER NOT NULL, "
            "pseudonym BLOB, secret BLOB)"
        ))
    else:
        # Hash joins over a million rows stay in memory instead of spilling to disk.
        session.execute(text("SET LOCAL work_mem = '256MB'"))
        # No primary key: filling a keyed temporary table of a million rows cost 60% more, and only the
        # leftover-fen lookups (a handful of rows) read it in member order.
        session.execute(text(
            "CREATE TEMP TABLE IF NOT EXISTS share_pool "
            "(member_id BIGINT NOT NULL, account_id BIGINT NOT NULL, capacity BIGINT NOT NULL, "
            "pseudonym BYTEA, secret BYTEA) ON COMMIT DROP"
        ))
    session.execute(text("DELETE FROM share_pool"))


def _fill_pool(session: Session, *, case: Case, plan: Plan, claimant_id: int, now: datetime, rule: int) -> None:
    """Sharing members: the plan's active enrollments sharing by today, except the claimant. Under
    rule 2 each also gets their pseudonym for the case (the key that orders the leftover fen) and
    their secret (for the salted leaf of the share tree)."""
    if rule == 2:
        keyed = ("huzhu_pseudonym(m.verify_secret, :case_no)" if is_sqlite(session) else
                 "sha256(convert_to('huzhu/pseudonym/v1|' || CAST(:case_no AS text) || '|', 'UTF8') || m.verify_secret)")
        columns, join = f", {keyed}, m.verify_secret", " JOIN members m ON m.id = e.member_id"
    else:
        columns, join = ", NULL, NULL", ""
    session.execute(
        text(
            f"""
            INSERT INTO share_pool (member_id, account_id, capacity, pseudonym, secret)
            SELECT e.member_id, e.ledger_account_id,
                   CASE WHEN a.credits_posted - a.debits_posted - a.debits_pending >= :cap THEN :cap
                        WHEN a.credits_posted - a.debits_posted - a.debits_pending <= 0 THEN 0
                        ELSE a.credits_posted - a.debits_posted - a.debits_pending END{columns}
            FROM enrollments e
            JOIN ledger_accounts a ON a.id = e.ledger_account_id{join}
            WHERE e.plan_code = :plan AND e.status = 'active' AND e.shares_from <= :today
              AND e.member_id <> :claimant
            """
        ),
        {"cap": plan.cap_per_case_fen, "plan": plan.code, "today": business_date(now), "claimant": claimant_id,
         **({"case_no": case.case_no} if rule == 2 else {})},
    )
    if not is_sqlite(session):
        session.execute(text("ANALYZE share_pool"))


def _leftover_condition(session: Session, allocation: Allocation, pivot: int | bytes,
                        key: str = "member_id") -> ColumnElement[bool] | None:
    """Which members pay one leftover fen: those able to, in ascending ``key`` (rule 1: member number;
    rule 2: pseudonym) from the pivot, wrapping around; None when no one."""
    if allocation.leftover == 0:
        return None
    level, leftover = allocation.level, allocation.leftover
    after_pivot = session.scalar(
        text(f"SELECT COUNT(*) FROM share_pool WHERE capacity > :level AND {key} >= :pivot"),
        {"level": level, "pivot": pivot},
    )
    able = SHARE_POOL.c.capacity > _fen(level)
    member = SHARE_POOL.c[key]
    bound: Callable[[Any], BindParameter[Any]] = _fen if key == "member_id" else _bytes
    if leftover <= after_pivot:
        last = session.scalar(
            text(f"SELECT {key} FROM share_pool WHERE capacity > :level AND {key} >= :pivot "
                 f"ORDER BY {key} LIMIT 1 OFFSET :skip"),
            {"level": level, "pivot": pivot, "skip": leftover - 1},
        )
        return and_(able, member >= bound(pivot), member <= bound(last))
    last = session.scalar(
        text(f"SELECT {key} FROM share_pool WHERE capacity > :level AND {key} < :pivot "
             f"ORDER BY {key} LIMIT 1 OFFSET :skip"),
        {"level": level, "pivot": pivot, "skip": leftover - after_pivot - 1},
    )
    return and_(able, or_(member >= bound(pivot), member <= bound(last)))


def _fen(value: int) -> BindParameter[int]:
    return literal(value, BigInteger)


def _bytes(value: bytes) -> BindParameter[bytes]:
    return literal(bytes(value), LargeBinary)


def _share_amount(allocation: Allocation, leftover: ColumnElement[bool] | None) -> ColumnElement[int]:
    """Each sharing member's share: the equal share (never more than their capacity), plus one
    leftover fen for the members ``leftover`` picks."""
    capacity = SHARE_POOL.c.capacity
    share: ColumnElement[int] = sql_case((capacity < _fen(allocation.level), capacity), else_=_fen(allocation.level))
    if leftover is not None:
        share = share + sql_case((leftover, 1), else_=0)
    return share


def _share_legs(allocation: Allocation, leftover: ColumnElement[bool] | None) -> Select[tuple[int, int]]:
    """Each sharing member's debit leg; members paying nothing have no leg."""
    share = _share_amount(allocation, leftover)
    return select(SHARE_POOL.c.account_id, share.label("amount")).where(share > 0)


def sharer_rows(allocation: Allocation, leftover: ColumnElement[bool] | None) -> Select[tuple[bytes, int, int, bytes]]:
    """Every sharer (paying or not) as ``(pseudonym, capacity, share, secret)`` in pseudonym order: the
    run file's lines and the share tree's leaves (rule 2)."""
    share = _share_amount(allocation, leftover)
    return select(SHARE_POOL.c.pseudonym, SHARE_POOL.c.capacity, share.label("share"),
                  SHARE_POOL.c.secret).order_by(SHARE_POOL.c.pseudonym)


def _post_shares(session: Session, *, run: ApportionmentRun, case: Case, allocation: Allocation,
                 leftover: ColumnElement[bool] | None, now: datetime) -> int:
    """One share transfer: every paying member's debit, the case pool's credit; returns its id."""
    entries, collected = allocation.paying_members + 1, allocation.collected
    shares = begin_bulk_transfer(
        session, idempotency_key=f"share:{case.case_no}", kind="share", now=now,
        basis={"entries": entries, "amount": collected}, case_id=case.id, run_id=run.id,
        memo=f"shares of case {case.case_no} in run {run.run_no}",
    )
    if not shares.replayed:
        shares.add_legs(_share_legs(allocation, leftover), direction=DEBIT)
        failpoint("run.share_debits_written")
        shares.add_leg(case.ledger_account_id, direction=CREDIT, amount=collected)
    return shares.finish(entries=entries, amount=collected).id


def share_case(session: Session, *, run: ApportionmentRun, case: Case, plan: Plan, now: datetime,
               rule: int = 1) -> RunCase:
    claim = session.get(Claim, case.claim_id)
    assert claim is not None
    _prepare_pool_table(session)
    _fill_pool(session, case=case, plan=plan, claimant_id=claim.member_id, now=now, rule=rule)
    histogram = {int(c): int(n) for c, n in session.execute(
        text("SELECT capacity, COUNT(*) FROM share_pool GROUP BY capacity"))}
    allocation = allocate_level(histogram or {0: 0}, case.amount_fen)
    if rule == 2:
        pivot = 0  # rule 2's pivot is a point among the pseudonyms, published in the case's record
        leftover = _leftover_condition(session, allocation, pivot_point(case.case_no), key="pseudonym")
    else:
        highest = session.scalar(text("SELECT COALESCE(MAX(member_id), 0) FROM share_pool")) or 0
        pivot = leftover_pivot(case.case_no, int(highest))
        leftover = _leftover_condition(session, allocation, pivot)
    transfer_id = None
    if allocation.collected > 0:
        transfer_id = _post_shares(session, run=run, case=case, allocation=allocation, leftover=leftover, now=now)
    case.status = CaseStatus.SHARED
    case.collected_fen = allocation.collected
    case.shortfall_fen = allocation.shortfall
    case.run_id = run.id
    case.updated_at = now
    run_case = RunCase(
        run_id=run.id, case_id=case.id, sharing_members=allocation.sharing_members,
        paying_members=allocation.paying_members, benefit_fen=case.amount_fen, cap_fen=plan.cap_per_case_fen,
        level_fen=allocation.level, leftover_fen=allocation.leftover,
        members_limited_by_balance=allocation.limited_by_balance, collected_fen=allocation.collected,
        shortfall_fen=allocation.shortfall, leftover_pivot_member_id=pivot, transfer_id=transfer_id,
        rule_version=rule,
    )
    session.add(run_case)
    session.flush()
    if rule == 2:
        publish_case_tree(session, run_no=run.run_no, run_case_id=run_case.id, case_no=case.case_no, plan=plan.code,
                          benefit=case.amount_fen, cap=plan.cap_per_case_fen, allocation=allocation,
                          rows=sharer_rows(allocation, leftover), now=now)
    append_record(session, kind="case_shared", subject=case.case_no, payload=run_case_payload(run, case, run_case),
                  now=now)
    return run_case


def run_case_payload(run: ApportionmentRun, case: Case, rc: RunCase) -> dict[str, object]:
    return {
        "run_no": run.run_no,
        "case_no": case.case_no,
        "benefit": format_yuan(rc.benefit_fen),
        "sharing_members": rc.sharing_members,
        "paying_members": rc.paying_members,
        "cap_per_member": format_yuan(rc.cap_fen),
        "share_per_member": format_yuan(rc.level_fen),
        "members_paying_one_fen_more": rc.leftover_fen,
        "members_limited_by_balance": rc.members_limited_by_balance,
        "collected": format_yuan(rc.collected_fen),
        "shortfall": format_yuan(rc.shortfall_fen),
        **({"leftover_rule": published_rule(), "leftover_pivot_member": rc.leftover_pivot_member_id}
           if rc.rule_version == 1 else
           {"leftover_rule": RULE_V2.text_en, "leftover_rule_version": 2,
            "leftover_pivot": pivot_point(case.case_no).hex(),
            "inputs_url": f"/api/v1/runs/{run.run_no}/cases/{case.case_no}/inputs"}),
    }


def apportion_due_cases(
    session: Session, *, plans: Mapping[str, Plan], now: datetime, actor_id: int | None = None,
    progress: Progress | None = None,
) -> ApportionmentRun | None:
    """Share every due case in one run; returns the run, or None when nothing was due."""
    cases = [c for c in due_cases(session, now=now) if c.plan_code in plans]
    if not cases:
        return None
    run = ApportionmentRun(
        run_no="pending", as_of=now, started_at=now, cases_count=len(cases), sharing_members=0,
        total_benefit_fen=0, total_collected_fen=0, total_shortfall_fen=0, suspended_enrollments=0,
        triggered_by_account_id=actor_id,
    )
    session.add(run)
    session.flush()
    run.run_no = f"R{next_number(session, 'run'):06d}"
    rule = rule_for_run(session, now=now).version
    if rule == 2:
        ensure_member_secrets(session)
    results = []
    for case in cases:
        if progress:
            progress(f"sharing case {case.case_no}")
        results.append(share_case(session, run=run, case=case, plan=plans[case.plan_code], now=now, rule=rule))
        failpoint("run.case_shared")
    if len(results) == 1:
        run.sharing_members = results[0].paying_members
    else:
        run.sharing_members = session.scalar(text(
            "SELECT COUNT(DISTINCT e.account_id) FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id "
            "WHERE t.run_id = :run AND t.kind = 'share' AND e.direction = 1"), {"run": run.id}) or 0
    run.total_benefit_fen = sum(r.benefit_fen for r in results)
    run.total_collected_fen = sum(r.collected_fen for r in results)
    run.total_shortfall_fen = sum(r.shortfall_fen for r in results)
    if progress:
        progress("suspending members below the minimum balance")
    run.suspended_enrollments = suspend_underfunded(session, plans=plans, now=now, run_id=run.id)
    failpoint("run.suspended")
    session.flush()
    append_record(session, kind="run", subject=run.run_no, payload={
        "run_no": run.run_no, "as_of": now.isoformat(), "cases": [c.case_no for c in cases],
        "members_charged": run.sharing_members, "total_benefit": format_yuan(run.total_benefit_fen),
        "total_collected": format_yuan(run.total_collected_fen), "total_shortfall": format_yuan(run.total_shortfall_fen),
        "suspended_enrollments": run.suspended_enrollments,
    }, now=now)
    session.expire_all()
    return run


# ---------------------------------------------------------------- per-member proofs


def share_leaf(case_no: str, member_id: int, amount_fen: int) -> bytes:
    return f'{{"case":"{case_no}","member":{member_id},"share":"{format_yuan(amount_fen)}"}}'.encode()


def _share_rows(session: Session, transfer_id: int) -> Result[int, int]:
    return session.execute(
        text("SELECT m.id, e.amount FROM ledger_entries e JOIN members m ON m.ledger_account_id = e.account_id "
             "WHERE e.transfer_id = :tid AND e.direction = 1 ORDER BY m.id"),
        {"tid": transfer_id},
    ).yield_per(20000)


def publish_share_roots(session: Session, *, now: datetime) -> int:
    """Publish the RFC 6962 root over each shared case's (member, share) leaves."""
    done = 0
    for rc in session.scalars(select(RunCase).where(RunCase.shares_root.is_(None))).all():
        case = session.get(Case, rc.case_id)
        assert case is not None
        tree = StreamingRoot()
        if rc.transfer_id is not None:
            for member_id, amount in _share_rows(session, rc.transfer_id):
                tree.add(leaf_hash(share_leaf(case.case_no, member_id, amount)))
        rc.shares_root = tree.root().hex()
        append_record(session, kind="shares_root", subject=case.case_no,
                      payload={"case_no": case.case_no, "leaves": tree.size, "root_hash": rc.shares_root}, now=now)
        done += 1
        failpoint("proofs.root_published")
    session.flush()
    return done


class ShareProofData(TypedDict):
    case_no: str
    member_id: int
    share: str
    leaf: str
    leaf_index: int
    tree_size: int
    root_hash: str
    published_root: str | None
    proof: list[str]


def member_share_proof(session: Session, *, case: Case, member_id: int) -> ShareProofData | None:
    """A member's share of a case with an inclusion proof against the published root."""
    rc = session.scalar(select(RunCase).where(RunCase.case_id == case.id))
    if rc is None or rc.transfer_id is None:
        return None
    hashes, index, amount = [], None, 0
    for i, (mid, amt) in enumerate(_share_rows(session, rc.transfer_id)):
        hashes.append(leaf_hash(share_leaf(case.case_no, mid, amt)))
        if mid == member_id:
            index, amount = i, amt
    if index is None:
        return None
    return {
        "case_no": case.case_no, "member_id": member_id, "share": format_yuan(amount),
        "leaf": share_leaf(case.case_no, member_id, amount).decode(), "leaf_index": index,
        "tree_size": len(hashes), "root_hash": root_from_leaf_hashes(hashes).hex(),
        "published_root": rc.shares_root, "proof": [h.hex() for h in inclusion_proof(hashes, index)],
    }


def run_or_none(session: Session, run_no: str) -> ApportionmentRun | None:
    return session.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == run_no))


def count_runs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApportionmentRun)) or 0
