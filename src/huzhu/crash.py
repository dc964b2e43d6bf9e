"""What must hold after a crash anywhere and a restart: the invariants a crash test checks, and the
fingerprint of the books it compares with a run that never crashed.

``check_after_restart`` runs ``huzhu ledger check``'s invariants (balanced transfers, account totals
= entries, no negative balance, custody = liabilities, books = custodian, the public record chain)
and adds what a crash could break between commits:

- every member charged at most once per case, and each shared case's share transfer has exactly
  the legs and total its run recorded (so each sharing member was charged exactly once);
- run numbers, case numbers and public record indexes gapless (1…n, 0…n−1), and each numbering
  sequence at the last number handed out;
- a case is shared once (one run line, one ``case_shared`` record) and never both paid and unpaid:
  ``paid`` if and only if its payout is posted, one ``case_paid`` record for each paid case;
- once the job has been run again to the end, no transfer is left pending (the sandbox custodian
  books at once) and every shared case has its proof root.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from huzhu.ledger.invariants import _EFFECTIVE, check_ledger
from huzhu.transparency.service import verify_chain


def _rows(session: Session, sql: str, **params: object) -> list[Any]:
    return list(session.execute(text(sql), params))


def _gapless(label: str, numbers: list[int], first: int) -> list[str]:
    expected = list(range(first, first + len(numbers)))
    if sorted(numbers) != expected:
        missing = sorted(set(expected) - set(numbers))[:5]
        return [f"{label} not gapless: {len(numbers)} numbers, first missing {missing}"]
    return []


def numbering_problems(session: Session) -> list[str]:
    problems: list[str] = []
    runs = [int(r[0][1:]) for r in _rows(session, "SELECT run_no FROM apportionment_runs")]
    problems += _gapless("run numbers", runs, 1)
    cases = [int(r[0][2:]) for r in _rows(session, "SELECT case_no FROM cases WHERE case_no NOT LIKE 'pending-%'")]
    problems += _gapless("case numbers", cases, 1) if cases and min(cases) == 1 else []
    leaves = [int(r[0]) for r in _rows(session, "SELECT leaf_index FROM public_records")]
    problems += _gapless("public record indexes", leaves, 0)
    sequences = dict(_rows(session, "SELECT name, last_value FROM number_sequences"))
    if runs and sequences.get("run") != max(runs):
        problems.append(f"run sequence at {sequences.get('run')} but the last run is {max(runs)}")
    return problems


def sharing_problems(session: Session) -> list[str]:
    problems: list[str] = []
    for r in _rows(session, """
            SELECT e.account_id, t.case_id, COUNT(*) AS n FROM ledger_entries e
            JOIN ledger_transfers t ON t.id = e.transfer_id
            WHERE t.kind = 'share' AND e.direction = 1 GROUP BY e.account_id, t.case_id HAVING COUNT(*) > 1
            LIMIT 5"""):
        problems.append(f"account {r.account_id} charged {r.n} times for case {r.case_id}")
    for r in _rows(session, """
            SELECT c.case_no, rc.paying_members, rc.collected_fen, t.entry_count, t.amount,
                   (SELECT COUNT(*) FROM ledger_entries e WHERE e.transfer_id = t.id AND e.direction = 1) AS debits,
                   (SELECT COUNT(*) FROM ledger_transfers s WHERE s.kind = 'share' AND s.case_id = c.id) AS shares
            FROM run_cases rc JOIN cases c ON c.id = rc.case_id
            LEFT JOIN ledger_transfers t ON t.id = rc.transfer_id"""):
        if r.collected_fen and (r.debits != r.paying_members or r.amount != r.collected_fen or r.shares != 1):
            problems.append(f"case {r.case_no}: {r.debits} members charged in {r.shares} share transfers, "
                            f"run recorded {r.paying_members} members paying {r.collected_fen} fen")
    for r in _rows(session, """
            SELECT c.case_no, c.status,
                   (SELECT COUNT(*) FROM run_cases rc WHERE rc.case_id = c.id) AS lines,
                   (SELECT COUNT(*) FROM public_records p WHERE p.kind = 'case_shared' AND p.subject = c.case_no) AS shared,
                   (SELECT COUNT(*) FROM public_records p WHERE p.kind = 'case_paid' AND p.subject = c.case_no) AS paid
            FROM cases c"""):
        was_shared = r.status in ("shared", "paying", "paid")
        if r.lines != int(was_shared) or r.shared != int(was_shared):
            problems.append(f"case {r.case_no} ({r.status}): {r.lines} run lines, {r.shared} case_shared records")
        if r.paid != int(r.status == "paid"):
            problems.append(f"case {r.case_no} ({r.status}): {r.paid} case_paid records")
    # Paid if and only if the payout is posted: no case both paid and unpaid.
    effective = {row.id: row.effective for row in _rows(session, _EFFECTIVE)}
    for r in _rows(session, """
            SELECT c.case_no, c.status, c.collected_fen, i.pending_transfer_id FROM cases c
            LEFT JOIN custody_instructions i ON i.id = (SELECT MAX(j.id) FROM custody_instructions j
                                                         WHERE j.case_id = c.id AND j.kind = 'payout')
            WHERE c.status IN ('shared', 'paying', 'paid')"""):
        state = effective.get(r.pending_transfer_id) if r.pending_transfer_id else None
        if r.status == "paid" and r.collected_fen and state != "posted":
            problems.append(f"case {r.case_no} is paid but its payout is {state}")
        if r.status != "paid" and state == "posted":
            problems.append(f"case {r.case_no} is {r.status} but its payout is posted")
    for r in _rows(session, """
            SELECT c.case_no, COUNT(*) AS n FROM ledger_transfers t JOIN cases c ON c.id = t.case_id
            WHERE t.kind = 'payout' AND t.pending_id IS NOT NULL AND t.status = 'posted' GROUP BY c.case_no
            HAVING COUNT(*) > 1"""):
        problems.append(f"case {r.case_no} paid out {r.n} times")
    return problems


def resumed_problems(session: Session) -> list[str]:
    """What must hold once the job has been run again to its end after the crash."""
    problems = [f"transfer {row.id} ({row.kind}) still pending after the job ran again"
                for row in _rows(session, _EFFECTIVE) if row.effective == "pending"][:5]
    problems += [f"case {r.case_no} still {r.status} after the job ran again" for r in _rows(
        session, "SELECT case_no, status FROM cases WHERE status IN ('shared', 'paying')")]
    problems += [f"case {r.case_no} has no published share root" for r in _rows(
        session, "SELECT c.case_no FROM run_cases rc JOIN cases c ON c.id = rc.case_id WHERE rc.shares_root IS NULL")]
    return problems


def check_after_restart(session: Session, *, resumed: bool = True) -> list[str]:
    """Every problem found (empty: all holds). ``resumed``: the job has since been run to its end."""
    problems = [f"{v.invariant}: {v.message}" for v in check_ledger(session)]
    problems += [f"public_record_chain: {p}" for p in verify_chain(session)]
    problems += numbering_problems(session)
    problems += sharing_problems(session)
    if resumed:
        problems += resumed_problems(session)
    return problems


def fingerprint(session: Session) -> dict[str, Any]:
    """What a crashed-and-resumed run must end with exactly as a run that never crashed: every
    account's totals, every transfer by idempotency key, the public records and the cases."""
    digest = hashlib.sha256()
    for row in _rows(session, "SELECT id, kind, debits_posted, credits_posted, debits_pending, credits_pending "
                              "FROM ledger_accounts ORDER BY id"):
        digest.update(repr(tuple(row)).encode())
    transfers = hashlib.sha256()
    for row in _rows(session, "SELECT t.idempotency_key, t.kind, t.status, t.amount, t.entry_count, t.case_id, "
                              "p.idempotency_key FROM ledger_transfers t "
                              "LEFT JOIN ledger_transfers p ON p.id = t.pending_id ORDER BY t.idempotency_key"):
        transfers.update(repr(tuple(row)).encode())
    entries = hashlib.sha256()
    for row in _rows(session, "SELECT t.idempotency_key, e.account_id, e.direction, e.amount FROM ledger_entries e "
                              "JOIN ledger_transfers t ON t.id = e.transfer_id "
                              "ORDER BY t.idempotency_key, e.account_id, e.direction"):
        entries.update(repr(tuple(row)).encode())
    records = _rows(session, "SELECT kind, subject, payload FROM public_records ORDER BY leaf_index")
    return {
        "accounts": digest.hexdigest(),
        "transfers": transfers.hexdigest(),
        "entries": entries.hexdigest(),
        "sequences": sorted(tuple(r) for r in _rows(session, "SELECT name, last_value FROM number_sequences")),
        "run_cases": [tuple(r) for r in _rows(
            session, "SELECT c.case_no, rc.paying_members, rc.collected_fen, rc.shares_root FROM run_cases rc "
                     "JOIN cases c ON c.id = rc.case_id ORDER BY c.case_no")],
        "public_records": len(records),
        "public_record_kinds": [f"{r.kind}:{r.subject}" for r in records],
        "public_head": hashlib.sha256(json.dumps([tuple(r) for r in records]).encode()).hexdigest(),
        "cases": [tuple(r) for r in _rows(session, "SELECT case_no, status, collected_fen, shortfall_fen "
                                                   "FROM cases ORDER BY case_no")],
        "runs": [tuple(r) for r in _rows(session, "SELECT run_no, sharing_members, total_collected_fen "
                                                  "FROM apportionment_runs ORDER BY run_no")],
    }


# ---------------------------------------------------------------- the scenario a crash test starts from

JOB_TIME = "2016-02-23T11:00:00+08:00"
"""When the scenario's job is run (``huzhu jobs run --now JOB_TIME``): both notices have ended."""


def build_scenario(settings: Any, *, members: int) -> None:
    """The demo's story on a pool of ``members``, stopped just before the job: two cases due (a
    death benefit, whose payout is followed by the estate refund, and a disability benefit)."""
    import tempfile
    from pathlib import Path

    from huzhu.app import build_platform
    from huzhu.clock import FixedClock
    from huzhu.demo import at, replay_article, write_pool_csv
    from huzhu.members.importer import import_members

    clock = FixedClock(at("2015-03-01"))
    platform = build_platform(settings, clock=clock)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pool = Path(tmp) / "pool.csv"
            write_pool_csv(pool, count=members)
            with platform.session() as session:
                import_members(session, path=pool, plans=platform.plans, now=clock.now())
        replay_article(platform, clock, log=lambda *_: None, run_job=False)
    finally:
        platform.engine.dispose()
