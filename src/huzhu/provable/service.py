"""Publishing what it takes to recompute every fen, and the members' proofs.

* **Rule 2** (leftover fen by keyed pseudonym, ``huzhu_verify.leftover.RULE_V2``) is published in the
  log (kind ``leftover_rule``) with its effective date before the first run that uses it; each
  shared case records the rule version it was shared under (``RunCase.rule_version``).
* **Per case** (rule 2): the run file (water-filling inputs under pseudonyms, ``runcheck``), the share
  tree over (salted leaf, share), root sum = collected and leaf count = paying sharers, and a
  ``run_sum_root`` record holding the root and the run file's SHA-256. Built inside the run's
  transaction from the sharing pool, streamed from one ordered query.
* **Per day**: the liabilities tree over every member balance and every undisbursed case pool,
  and a ``liabilities_root`` record comparing its sum with the custodian's attested cash (or, until
  the bank attests, the platform's own custody cash account, said to be unattested), difference
  published with its sign.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import operator
import os
import shutil
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from sqlalchemy import Select, TextClause, func, select, text
from sqlalchemy.orm import Session

from huzhu.clock import business_date
from huzhu.db import SQL_SUM_FEN, is_sqlite, sum_fen
from huzhu.ledger.models import CASE_POOL, CUSTODY_CASH, LedgerAccount
from huzhu.members.models import Member
from huzhu.money import format_yuan
from huzhu.notices.models import Case
from huzhu.provable.models import SumTree
from huzhu.provable.store import RULE_V2_FROM_KEY, find_leaf_index, tree_paths
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import append_record
from huzhu_verify import leafblocks
from huzhu_verify.leftover import RULE_V1, RULE_V2, LeftoverRule
from huzhu_verify.liabilities import liabilities_match, liabilities_tree_id
from huzhu_verify.pseudonyms import LEAF_DOMAINS, TreeDerivation, check_secrets, format_secret, pool_secret
from huzhu_verify.runcheck import RunHeader, file_digest
from huzhu_verify.sumtree import HASH_SIZE, LevelFile, StoredBlock, SumRoot, write_level_file_blocks

RULE_RECORD = "leftover_rule"
RUN_ROOT_RECORD = "run_sum_root"
LIABILITIES_RECORD = "liabilities_root"
ATTESTATION_RECORD = "custody_attestation"

POSTGRES_NEW_SECRET = "sha256(convert_to(gen_random_uuid()::text || id::text || gen_random_uuid()::text, 'UTF8'))"


# ---------------------------------------------------------------- member secrets and the rule


def ensure_member_secrets(session: Session) -> None:
    """Members written in bulk (the importer) get their secret here, set-based, before a tree needs it."""
    expression = "randomblob(32)" if is_sqlite(session) else POSTGRES_NEW_SECRET
    session.execute(text(f"UPDATE members SET verify_secret = {expression} WHERE verify_secret IS NULL"))


def rule_v2_from(session: Session) -> date:
    configured = session.info.get(RULE_V2_FROM_KEY)
    return configured if isinstance(configured, date) else RULE_V2.effective_from


def rule_payload(rule: LeftoverRule, effective_from: date) -> dict[str, Any]:
    return {"version": rule.version, "effective_from": effective_from.isoformat(), "order_by": rule.key,
            "rule_zh": rule.text_zh, "rule_en": rule.text_en,
            "pivot": "SHA-256(\"huzhu/pivot/v2|\" + case number)" if rule.version == 2 else
                     "int(SHA-256(case number)) mod (highest sharing member number) + 1"}


def publish_rule(session: Session, *, now: datetime) -> date:
    """Append rule 2 with its effective date to the log once (before its first use); returns the date.
    Once published, the record's date binds: a later change of the setting does not move it."""
    import json

    published = session.scalar(select(PublicRecord.payload).where(
        PublicRecord.kind == RULE_RECORD, PublicRecord.subject == "leftover-rule-v2").order_by(PublicRecord.leaf_index))
    if published is not None:
        return date.fromisoformat(json.loads(published)["effective_from"])
    effective = rule_v2_from(session)
    append_record(session, kind=RULE_RECORD, subject="leftover-rule-v2", payload=rule_payload(RULE_V2, effective),
                  now=now)
    return effective


def rule_for_run(session: Session, *, now: datetime) -> LeftoverRule:
    """The rule a run at ``now`` uses: 2 from its published effective date on, 1 before."""
    effective = publish_rule(session, now=now)
    return RULE_V2 if business_date(now) >= effective else RULE_V1


# ---------------------------------------------------------------- one case's run file and share tree


def publish_case_tree(session: Session, *, run_no: str, run_case_id: int, case_no: str, plan: str, benefit: int,
                      cap: int, allocation: Any, rows: Select[Any], now: datetime) -> SumRoot:
    """Write the run file, the level and keys files of the case's share tree, and log the root.

    ``rows`` selects ``(pseudonym, capacity, share, secret)`` of every sharer in ascending pseudonym
    order (the sharing pool of the run's transaction). One pass, block by block of paying sharers
    (``leafblocks``: in worker processes for a big case): each row becomes a run-file line (to a side
    file), a key and a leaf of the level file; then the header (which holds the root) is written
    and the lines appended. Same bytes as ``runcheck.write_run_file`` + ``level_file_from_run``
    (the tests recompute every file with ``runcheck.recompute``)."""
    paths = tree_paths(session, "share", case_no)
    parts = paths["inputs"].with_name(paths["inputs"].name + ".parts")
    count, size = allocation.paying_members, leafblocks.BLOCK_LEAVES
    state = {"sharers": 0, "first_leaf": 0, "blocks": 0}
    tail: list[bytes] = []  # the run-file lines of the last, partial block
    domain = b"\x00" + LEAF_DOMAINS["share"]
    salt_prefix = f"huzhu/salt/v1|{case_no}|".encode("ascii")

    def task(block: list[Any], perfect: bool) -> tuple[Any, ...]:
        pseudonyms, capacities, shares, secrets = leafblocks.columns(block)
        files, lines_path = None, None
        if perfect:  # the worker writes its levels, keys and lines itself
            files = (str(paths["levels"]), str(paths["keys"]), count, state["first_leaf"])
            lines_path = str(parts / f"{state['blocks']:08d}")
            state["first_leaf"] += size
            state["blocks"] += 1
        return ("share_block", domain, salt_prefix, cap, b"".join(pseudonyms), b"".join(secrets),
                leafblocks.pack_amounts(capacities), leafblocks.pack_amounts(shares), files, lines_path)

    def tasks() -> Iterator[tuple[Any, ...]]:
        """Blocks of exactly ``BLOCK_LEAVES`` paying sharers (with the non-paying ones among them),
        then the rest."""
        # Usually every sharer pays (a share of at least one fen): the blocks are cut without looking
        # at the rows (a pass over a million sorted rows is a cache miss per row). A block that
        # nevertheless held a sharer paying nothing would not be perfect, and its levels would not halve.
        everyone_pays = allocation.paying_members == allocation.sharing_members
        pending: list[Any] = []
        for batch in _rows_by_pseudonym(session, rows):
            state["sharers"] += len(batch)
            pending += batch
            while len(pending) >= size:
                cut = size if everyone_pays else _cut_after_paying(pending, size)
                if cut is None:
                    break
                yield task(pending[:cut], True)
                del pending[:cut]
        if pending:
            yield task(pending, False)

    try:
        shutil.rmtree(parts, ignore_errors=True)
        parts.mkdir()
        paths["keys"].write_bytes(b"")
        with leafblocks.BlockRunner(leafblocks.worker_count(count)) as runner:

            def blocks() -> Iterator[StoredBlock | list[bytes]]:
                for lines, paying_keys, result in runner.run(tasks()):
                    if lines is not None:  # the last block: its lines and keys come back here
                        tail.append(lines)
                        leafblocks.write_at(paths["keys"], paying_keys, state["first_leaf"] * HASH_SIZE)
                    yield leafblocks.stored_block(result)

            root = write_level_file_blocks(paths["levels"], "share", case_no, count, blocks())
        if root.sum != allocation.collected:
            raise RuntimeError(f"case {case_no}: the shares add up to {root.sum} fen, the run collected "
                               f"{allocation.collected}")
        header = RunHeader(case_no=case_no, plan=plan, rule=2, benefit=benefit, cap=cap, sharers=state["sharers"],
                           level=allocation.level, leftover=allocation.leftover,
                           limited_by_balance=allocation.limited_by_balance, paying=allocation.paying_members,
                           collected=allocation.collected, shortfall=allocation.shortfall, root=root)
        with open(paths["inputs"], "wb") as out:
            out.write(header.to_line().encode("utf-8"))
            for number in range(state["blocks"]):
                with open(parts / f"{number:08d}", "rb") as lines_in:
                    _copy_in_kernel(lines_in, out)
            out.write(b"".join(tail))
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    digest = file_digest(paths["inputs"]).hex()
    session.add(SumTree(kind="share", tree_id=case_no, run_case_id=run_case_id, business_date=business_date(now),
                        root_hash=root.digest.hex(), leaf_count=root.count, total_fen=root.sum, inputs_sha256=digest,
                        members_count=header.sharers, pools_count=0, created_at=now))
    append_record(session, kind=RUN_ROOT_RECORD, subject=case_no, payload={
        "run_no": run_no, "case_no": case_no, "rule": 2, "root": root.to_json(), "sum": format_yuan(root.sum),
        "leaf_count": root.count, "sharers": header.sharers, "collected": format_yuan(allocation.collected),
        "inputs_sha256": digest, "inputs_url": f"/api/v1/runs/{run_no}/cases/{case_no}/inputs",
    }, now=now)
    return root


def _copy_in_kernel(source: BinaryIO, target: BinaryIO) -> None:
    """Append ``source`` to ``target`` (a run file's lines after its header, hundreds of megabytes for a
    big case) without passing the bytes through Python where the system can copy them itself."""
    target.flush()
    start, size = target.tell(), os.fstat(source.fileno()).st_size
    try:
        offset = 0
        while offset < size:
            sent = os.sendfile(target.fileno(), source.fileno(), offset, size - offset)
            if sent == 0:
                raise RuntimeError(f"{source.name} ended at {offset} of its {size} bytes")
            offset += sent
        target.seek(start + size)
    except OSError:  # no sendfile between these files here: copy in user space
        target.seek(start)
        target.truncate()
        source.seek(0)
        shutil.copyfileobj(source, target, 1 << 20)


def _cut_after_paying(rows: list[Any], size: int) -> int | None:
    """The length of the shortest prefix of ``rows`` holding ``size`` paying sharers (share, column 2,
    above zero), or None when all of ``rows`` hold fewer."""
    cut = size
    for position in [i for i, row in enumerate(rows) if row[2] <= 0]:
        if position >= cut:
            break
        cut += 1
    return cut if cut <= len(rows) else None


# ---------------------------------------------------------------- the daily liabilities tree


FETCH_BATCH = 20000


def _fetch_all(session: Session, statement: Select[Any] | TextClause,
               params: dict[str, Any] | None = None) -> list[Any]:
    session.flush()
    result = session.connection().execute(statement, params or {})
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a build holds a million row tuples (they hold no
    cycles): otherwise each full collection walks them all again, thousands of collections per build.
    Reference counting still frees everything; the collector is resumed as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _slices(rows: list[Any], size: int = FETCH_BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _rows_by_pseudonym(session: Session, statement: Select[Any]) -> Iterator[Sequence[Any]]:
    """The rows of ``statement`` (pseudonym first, ``ORDER BY`` pseudonym) in batches, read unordered
    and sorted in Python: on SQLite that takes about a third of the CPU time of its sorter over the
    same million rows, and on PostgreSQL the server's sort must end before the first row comes, so
    nothing overlaps it either. Pseudonyms are unique and both compare bytes the same way (memcmp,
    then length), so the order is the one ``ORDER BY`` gives."""
    with _no_cyclic_gc():
        rows = _fetch_all(session, statement.order_by(None))
        rows.sort(key=operator.itemgetter(0))
        yield from _slices(rows)


def _member_records(session: Session, tree_id: str, runner: leafblocks.BlockRunner) -> list[bytes]:
    """Every member as one ``leafblocks.MEMBER_RECORD`` (pseudonym for ``tree_id`` ‖ secret ‖ balance),
    in ascending pseudonym. The secrets and balances are read unordered, the records made block by
    block (by ``runner``'s workers for a big tree) and sorted in Python: a per-row SQL function
    (SQLite: a Python call through the driver per member) and the database's sorter cost several
    times more, and on PostgreSQL the server's hashing and sorting end before the first row comes.
    One byte string per member, not a tuple: the sort compares them directly and a block is a join."""
    with _no_cyclic_gc():
        rows = _fetch_all(session, text("SELECT m.verify_secret, a.credits_posted - a.debits_posted "
                                        "FROM members m JOIN ledger_accounts a ON a.id = m.ledger_account_id"))
        secrets = [bytes(row[0]) for row in rows]
        balances = [row[1] for row in rows]
        del rows
        check_secrets(secrets)
        prefix, size, width = TreeDerivation(tree_id).pseudonym_prefix, leafblocks.BLOCK_LEAVES, leafblocks.MEMBER_RECORD
        records: list[bytes] = []
        for joined in runner.run(("member_records", prefix, b"".join(secrets[start:start + size]),
                                  leafblocks.pack_amounts(balances[start:start + size]))
                                 for start in range(0, len(secrets), size)):
            records += [joined[i:i + width] for i in range(0, len(joined), width)]
        del secrets, balances
        records.sort()
        return records


def _pseudonym_of(record: bytes) -> bytes:
    return record[:HASH_SIZE]


def custody_cash(session: Session) -> int:
    return int(session.scalar(select(sum_fen(LedgerAccount.debits_posted - LedgerAccount.credits_posted))
                              .where(LedgerAccount.kind == CUSTODY_CASH)) or 0)


def latest_attestation(session: Session) -> dict[str, Any] | None:
    """The latest custodian attestation in the log (another service appends them), parsed."""
    import json

    record = session.scalar(select(PublicRecord).where(PublicRecord.kind == ATTESTATION_RECORD)
                            .order_by(PublicRecord.leaf_index.desc()).limit(1))
    if record is None:
        return None
    payload = json.loads(record.payload)
    try:
        fen = Decimal(str(payload["closing_balance"])) * 100
    except (KeyError, InvalidOperation):
        return None
    if fen != fen.to_integral_value() or fen < 0:
        return None
    return {"record_id": record.id, "leaf_index": record.leaf_index, "business_date": payload.get("business_date"),
            "cash_fen": int(fen), "statement_sha256": payload.get("statement_sha256"), "note": payload.get("note"),
            "bank_key": payload.get("bank_key")}


def cash_comparison(session: Session, liabilities: int) -> dict[str, Any]:
    """Liabilities against the bank's attested cash, or (not attested) the platform's custody account."""
    attestation = latest_attestation(session)
    if attestation is not None:
        cash, source = attestation["cash_fen"], "custodian_attestation"
    else:
        cash, source = custody_cash(session), "platform_ledger_not_attested"
    check = liabilities_match(liabilities, max(cash, 0))
    return {"liabilities": format_yuan(liabilities), "cash": format_yuan(cash), "cash_source": source,
            "liabilities_fen": liabilities, "cash_fen": cash, "difference_fen": cash - liabilities,
            "attested": attestation is not None, "difference": format_yuan(cash - liabilities),
            "matches": check.matches and cash >= 0, "message": check.message,
            "attestation": None if attestation is None else {
                k: attestation[k] for k in ("record_id", "leaf_index", "business_date", "statement_sha256")}}


def build_liabilities(session: Session, *, now: datetime, day: date | None = None) -> SumTree | None:
    """Build and publish ``day``'s liabilities tree (once per day); None when already published."""
    day = day or business_date(now)
    tree_id = liabilities_tree_id(day)
    if session.scalar(select(SumTree.id).where(SumTree.kind == "liabilities", SumTree.tree_id == tree_id)):
        return None
    ensure_member_secrets(session)
    pools = session.execute(text(
        "SELECT c.case_no, a.credits_posted - a.debits_posted FROM cases c JOIN ledger_accounts a "
        "ON a.id = c.ledger_account_id WHERE a.kind = :pool AND a.credits_posted - a.debits_posted <> 0"),
        {"pool": CASE_POOL}).all()
    derive = TreeDerivation(tree_id)
    pool_leaves = sorted((derive.pseudonym(pool_secret(no)), pool_secret(no), int(amount))
                         for no, amount in pools)
    members = session.scalar(select(func.count()).select_from(Member)) or 0
    paths = tree_paths(session, "liabilities", tree_id)
    count, size = members + len(pool_leaves), leafblocks.BLOCK_LEAVES
    domains = {k: b"\x00" + v for k, v in LEAF_DOMAINS.items()}
    salt_prefix = f"huzhu/salt/v1|{tree_id}|".encode("ascii")

    def tasks(runner: leafblocks.BlockRunner) -> Iterator[tuple[Any, ...]]:
        """Blocks of exactly ``BLOCK_LEAVES`` leaves, then the rest: the members' records with the few
        case pools merged in (by pseudonym, a member before a pool on a tie)."""
        records = _member_records(session, tree_id, runner)  # ``runner`` is free again once it returns
        pool_at: list[int] = []
        for p, secret, amount in pool_leaves:  # ascending: each lands after the ones before
            position = bisect.bisect_right(records, p, key=_pseudonym_of)
            records.insert(position, p + secret + leafblocks.pack_u64(amount))
            pool_at.append(position)
        with _no_cyclic_gc():
            for start in range(0, len(records), size):
                block = records[start:start + size]
                perfect = len(block) == size
                files = (str(paths["levels"]), str(paths["keys"]), count, start) if perfect else None
                if not perfect:  # the last block: its keys are written here
                    leafblocks.write_at(paths["keys"], b"".join([r[:HASH_SIZE] for r in block]), start * HASH_SIZE)
                yield ("balance_block", domains["balance"], domains["pool"], salt_prefix, b"".join(block),
                       [i - start for i in pool_at if start <= i < start + size], files)

    paths["keys"].write_bytes(b"")
    with leafblocks.BlockRunner(leafblocks.worker_count(count)) as runner:
        root = write_level_file_blocks(paths["levels"], "liabilities", tree_id, count,
                                       map(leafblocks.stored_block, runner.run(tasks(runner))))
    tree = SumTree(kind="liabilities", tree_id=tree_id, run_case_id=None, business_date=day,
                   root_hash=root.digest.hex(), leaf_count=root.count, total_fen=root.sum, inputs_sha256=None,
                   members_count=members, pools_count=len(pool_leaves), created_at=now)
    session.add(tree)
    session.flush()
    append_record(session, kind=LIABILITIES_RECORD, subject=tree_id, payload={
        "business_date": day.isoformat(), "root": root.to_json(), "sum": format_yuan(root.sum),
        "leaf_count": root.count, "member_balances": members, "case_pools": len(pool_leaves),
        "pools": {no: format_yuan(int(amount)) for no, amount in sorted(pools)},
        "check": cash_comparison(session, root.sum),
    }, now=now)
    return tree


def latest_liabilities(session: Session) -> SumTree | None:
    return session.scalar(select(SumTree).where(SumTree.kind == "liabilities")
                          .order_by(SumTree.business_date.desc(), SumTree.id.desc()).limit(1))


def liabilities_check(session: Session) -> dict[str, Any] | None:
    """The public check: the latest published liabilities against the cash, as of now."""
    tree = latest_liabilities(session)
    if tree is None:
        return None
    root = SumRoot(kind="liabilities", tree_id=tree.tree_id, count=tree.leaf_count, sum=tree.total_fen,
                   digest=bytes.fromhex(tree.root_hash))
    assert tree.business_date is not None
    return {"business_date": tree.business_date.isoformat(), "root": root.to_json(),
            "member_balances": tree.members_count, "case_pools": tree.pools_count, **cash_comparison(session, tree.total_fen)}


# ---------------------------------------------------------------- the member's proofs


def _root_of(tree: Any) -> SumRoot:
    return SumRoot(kind=tree.kind, tree_id=tree.tree_id, count=tree.leaf_count, sum=tree.total_fen,
                   digest=bytes.fromhex(tree.root_hash))


def root_json(tree: SumTree) -> dict[str, Any]:
    return _root_of(tree).to_json()


def _secret(member: Member) -> bytes | None:
    """None for a member written in bulk since the last tree: they get theirs before the next one."""
    return None if member.verify_secret is None else bytes(member.verify_secret)


def _proof_from_files(session: Session, tree: Any, pseudonym: bytes) -> tuple[int, int, dict[str, Any]] | None:
    paths = tree_paths(session, tree.kind, tree.tree_id)
    index = find_leaf_index(paths["keys"], pseudonym)
    if index is None:
        return None
    with LevelFile(paths["levels"]) as levels:
        if levels.root.digest.hex() != tree.root_hash:
            raise RuntimeError(f"the stored levels of {tree.tree_id} do not lead to the published root")
        leaf_hash, amount = levels.leaf(index)
        proof = levels.proof(index)
    return index, amount, {"proof": proof.to_json(), "leaf_hash": leaf_hash.hex()}


_TREE_SQL = text("SELECT id, kind, tree_id, root_hash, leaf_count, total_fen, business_date FROM sum_trees "
                 "WHERE kind = :kind AND tree_id = :tree")
_CHARGED_SQL = text(f"SELECT {SQL_SUM_FEN.format('amount')} FROM ledger_entries "
                    "WHERE account_id = :account AND transfer_id = :transfer AND direction = 1")


def share_tree(session: Session, case: Case) -> SumTree | None:
    return session.scalar(select(SumTree).where(SumTree.kind == "share", SumTree.tree_id == case.case_no))


def member_share_document(session: Session, *, member: Member, case: Case, run_case: Any) -> dict[str, Any] | None:
    """What the member's browser checks: their secret, what the ledger charged them, the proof and the
    published root (``sumproof.js`` ``verifyShare``). None when the case has no share tree (rule 1)
    or the member paid nothing for it. Plain SQL on the hot path (a proof is a few milliseconds)."""
    tree = session.execute(_TREE_SQL, {"kind": "share", "tree": case.case_no}).first()
    if tree is None or run_case.transfer_id is None:
        return None
    secret = _secret(member)
    if secret is None:
        return None
    charged = session.execute(_CHARGED_SQL, {"account": member.ledger_account_id,
                                             "transfer": run_case.transfer_id}).scalar() or 0
    found = _proof_from_files(session, tree, TreeDerivation(case.case_no).pseudonym(secret))
    if found is None:
        return None
    index, amount, proof = found
    return {"case_no": case.case_no, "secret": format_secret(secret), "amount": format_yuan(int(charged)),
            "cap": format_yuan(run_case.cap_fen), "leaf_index": index, "published_leaf_amount": format_yuan(amount),
            "root": _root_of(tree).to_json(), **proof}


def member_balance_document(session: Session, *, member: Member) -> dict[str, Any] | None:
    """The member's balance leaf in the latest liabilities tree (``sumproof.js`` ``verifyBalance``)."""
    tree = latest_liabilities(session)
    if tree is None or tree.business_date is None:
        return None
    secret = _secret(member)
    if secret is None:
        return None
    found = _proof_from_files(session, tree, TreeDerivation(tree.tree_id).pseudonym(secret))
    if found is None:
        return None
    index, amount, proof = found
    return {"day": tree.business_date.isoformat(), "secret": format_secret(secret), "amount": format_yuan(amount),
            "leaf_index": index, "root": _root_of(tree).to_json(), **proof}


# ---------------------------------------------------------------- public run data


def inputs_path(session: Session, case_no: str) -> os.PathLike[str] | None:
    path = tree_paths(session, "share", case_no)["inputs"]
    return path if path.exists() else None
