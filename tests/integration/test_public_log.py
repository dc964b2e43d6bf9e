"""The signed public log on both databases: checkpoints signed at commit, proofs from the stored tiles,
and ``verify_chain`` catching edits the old hash chain missed (issue 9)."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from sqlalchemy import select, update

from huzhu.clock import FixedClock
from huzhu.errors import InvalidInput
from huzhu.platform import Platform
from huzhu.transparency.keys import KEY_FILE
from huzhu.transparency.log import SIGNER_INFO_KEY, consistency, inclusion, latest_checkpoint
from huzhu.transparency.merkle import leaf_hash
from huzhu.transparency.models import LogCheckpoint, PublicRecord
from huzhu.transparency.service import append_record, record_proof, verify_chain
from huzhu_verify.checkpoint import open_checkpoint
from huzhu_verify.merkle import verify_consistency, verify_inclusion
from huzhu_verify.note import Ed25519Signer, sign_note


def _append(platform: Platform, clock: FixedClock, count: int, start: int = 0) -> None:
    with platform.session() as session:
        for i in range(start, start + count):
            append_record(session, kind="case_noticed", subject=f"HZ{i:06d}",
                          payload={"case_no": f"HZ{i:06d}", "amount": "100.00"}, now=clock.now())


def _signer(platform: Platform) -> Ed25519Signer:
    with platform.factory() as session:
        return session.info[SIGNER_INFO_KEY]


def test_key_made_once_private_and_named_by_origin(platform: Platform) -> None:
    path = platform.settings.data_dir / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    signer = _signer(platform)
    assert signer.name == platform.settings.log_origin == "huzhu.example/log"
    assert "PRIVATE" not in repr(signer) and signer.skey not in repr(signer)


def test_each_commit_signs_a_checkpoint_that_proofs_match(platform: Platform, clock: FixedClock) -> None:
    base = len(platform.plans)  # the plans' rule versions are the first records
    small, n = base + 3, base + 303
    _append(platform, clock, 3)
    _append(platform, clock, 300, start=3)
    verifier = _signer(platform).verifier
    with platform.factory() as session:
        sizes = list(session.scalars(select(LogCheckpoint.tree_size).order_by(LogCheckpoint.tree_size)))
        assert sizes == [base, small, n]
        latest = latest_checkpoint(session)
        signed = open_checkpoint(latest.note.encode(), [verifier], origin="huzhu.example/log")
        assert signed.checkpoint.size == n and signed.checkpoint.root_hash.hex() == latest.root_hash
        payload = session.scalar(select(PublicRecord.payload).where(PublicRecord.leaf_index == 7))
        got = inclusion(session, 7, n)
        verify_inclusion(leaf_hash(payload.encode()), 7, n, [bytes.fromhex(h) for h in got["proof"]],
                         signed.checkpoint.root_hash)
        old = open_checkpoint(session.scalar(select(LogCheckpoint.note).where(LogCheckpoint.tree_size == small)).encode(),
                              [verifier]).checkpoint
        proof = consistency(session, small, n)
        verify_consistency(small, n, [base64.b64decode(h) for h in proof["proof_b64"]], old.root_hash,
                           signed.checkpoint.root_hash)
        record_id = session.scalar(select(PublicRecord.id).where(PublicRecord.leaf_index == 290))
        by_record = record_proof(session, record_id)
        assert by_record["tree_size"] == n and by_record["checkpoint"] == latest.note
        # Sizes the log has not signed are refused, never silently replaced by the latest one.
        for bad in ({"index": 0, "tree_size": n + 1}, {"index": 5, "tree_size": 5}, {"index": 0, "tree_size": 0}):
            with pytest.raises(InvalidInput):
                inclusion(session, **bad)
        with pytest.raises(InvalidInput):
            consistency(session, 4, 3)
        assert verify_chain(session) == []


def test_record_edited_in_place_with_hash_recomputed_is_caught(platform: Platform, clock: FixedClock) -> None:
    base = len(platform.plans)
    _append(platform, clock, 5)
    with platform.session() as session:
        row = session.scalar(select(PublicRecord).where(PublicRecord.leaf_index == base + 2))
        forged = row.payload.replace("100.00", "1.00")
        forged_hash = leaf_hash(forged.encode()).hex()
        # The attack of issue 9: new content, its hash recomputed, and the next record's link fixed.
        session.execute(update(PublicRecord).where(PublicRecord.id == row.id)
                        .values(payload=forged, leaf_hash=forged_hash))
        session.execute(update(PublicRecord).where(PublicRecord.leaf_index == base + 3).values(prev_hash=forged_hash))
    with platform.factory() as session:
        problems = verify_chain(session)
    assert any(f"do not hash to the root the log signed at size {base + 5}" in p for p in problems), problems


def test_record_dropped_or_swapped_is_caught(platform: Platform, clock: FixedClock) -> None:
    _append(platform, clock, 6)
    with platform.session() as session:
        a, b = (session.scalar(select(PublicRecord).where(PublicRecord.leaf_index == i)) for i in (1, 2))
        a_payload, a_hash, b_payload, b_hash = a.payload, a.leaf_hash, b.payload, b.leaf_hash
        session.execute(update(PublicRecord).where(PublicRecord.id == a.id).values(payload=b_payload, leaf_hash=b_hash))
        session.execute(update(PublicRecord).where(PublicRecord.id == b.id).values(payload=a_payload, leaf_hash=a_hash))
    with platform.factory() as session:
        assert any("do not hash to the root" in p for p in verify_chain(session))
    with platform.session() as session:
        session.execute(PublicRecord.__table__.delete().where(PublicRecord.leaf_index >= 4))
    with platform.factory() as session:
        assert any("records were dropped" in p for p in verify_chain(session))


def test_checkpoint_signed_by_another_key_is_caught(platform: Platform, clock: FixedClock) -> None:
    _append(platform, clock, 2)
    impostor = Ed25519Signer.generate("huzhu.example/log")
    with platform.session() as session:
        row = latest_checkpoint(session)
        text = row.note.split("\n\n")[0] + "\n"
        row.note = sign_note(text, [impostor]).decode()
    with platform.factory() as session:
        assert any("not signed by the log key" in p for p in verify_chain(session))


def test_the_simulated_custodians_reconciliation_is_a_leaf(platform: Platform, clock: FixedClock) -> None:
    """Without a bank link (HUZHU_CUSTODY_BANK empty) a reconciliation is logged as on the bank path:
    the statement's SHA-256 and the result, inside the next signed checkpoint."""
    import hashlib
    import json
    from datetime import timedelta

    from huzhu.custody.service import SimulatedCustodian, reconcile

    from .helpers import join_member

    join_member(platform, clock)
    custodian = SimulatedCustodian()
    start, end = clock.now() - timedelta(days=1), clock.now() + timedelta(seconds=1)
    with platform.session() as session:
        result = reconcile(session, custodian, start=start, end=end, now=clock.now())
        statement_id = result.statement_id
        expected = hashlib.sha256(custodian.statement(session, statement_id=statement_id, start=start, end=end,
                                                      now=clock.now())).hexdigest()
    with platform.factory() as session:
        record = session.scalar(select(PublicRecord).where(PublicRecord.kind == "custody_reconciliation"))
        assert record is not None and record.subject == statement_id
        payload = json.loads(record.payload)
        assert payload["statement_sha256"] == expected
        assert payload["closing_balance"] == payload["ledger_custody"] == "9.00"
        assert (payload["lines"], payload["matched"], payload["unmatched"]) == (1, 1, 0)
        assert latest_checkpoint(session).tree_size > record.leaf_index  # signed at commit
        assert verify_chain(session) == []
    with platform.session() as session:  # the same statement again: nothing new, no second leaf
        reconcile(session, custodian, start=start, end=end, now=clock.now())
    with platform.factory() as session:
        kinds = list(session.scalars(select(PublicRecord.kind).where(PublicRecord.kind == "custody_reconciliation")))
        assert kinds == ["custody_reconciliation"]


def test_the_records_list_carries_the_checkpoint_it_was_read_against(platform: Platform, clock: FixedClock) -> None:
    from fastapi.testclient import TestClient

    from huzhu.app import create_app

    _append(platform, clock, 5)
    verifier = _signer(platform).verifier
    with TestClient(create_app(platform)) as client:
        first = client.get("/api/v1/transparency/records", params={"limit": 4}).json()
        size = first["tree_size"]
        signed = open_checkpoint(first["checkpoint"].encode(), [verifier], origin="huzhu.example/log").checkpoint
        assert signed.size == size == len(platform.plans) + 5 and signed.root_hash.hex() == first["root_hash"]
        rest = client.get("/api/v1/transparency/records", params={"cursor": first["next_cursor"], "limit": 100}).json()
        listed = first["items"] + rest["items"]
        assert [r["leaf_index"] for r in listed] == list(range(size))  # every record, all inside the checkpoint
        assert rest["next_cursor"] is None and rest["checkpoint"] == first["checkpoint"]
        # A record appended by a session without the log key is not in a checkpoint yet: not listed.
        with platform.factory() as session:
            session.info.pop(SIGNER_INFO_KEY)
            append_record(session, kind="case_noticed", subject="LATE", payload={}, now=clock.now())
            session.commit()
        again = client.get("/api/v1/transparency/records", params={"limit": 100}).json()
        assert again["tree_size"] == size and len(again["items"]) == size
        schema = client.get("/openapi.json").json()["components"]["schemas"]["PublicRecordPage"]
        assert {"tree_size", "root_hash", "checkpoint", "items"} <= set(schema["properties"])


def test_the_records_export_names_the_checkpoint_it_holds(platform: Platform, clock: FixedClock) -> None:
    """The open-data export of the public record (API and page, JSON and CSV) holds exactly the leaves
    of the served checkpoint and names it in its headers, so a downloaded file can be checked against
    the log: every leaf hash of the file rebuilds the signed root."""
    import csv
    import io
    import json

    from fastapi.testclient import TestClient

    from huzhu.app import create_app
    from huzhu_verify.merkle import root_from_leaf_hashes

    _append(platform, clock, 5)
    verifier = _signer(platform).verifier
    with platform.factory() as session:  # appended without the log key: not in a checkpoint yet, not exported
        session.info.pop(SIGNER_INFO_KEY)
        append_record(session, kind="case_noticed", subject="LATE", payload={}, now=clock.now())
        session.commit()
    with TestClient(create_app(platform)) as client:
        for address in ("/api/v1/exports/records?format=json", "/api/v1/exports/records?format=csv",
                        "/open-data/records.json", "/open-data/records.csv"):
            answer = client.get(address)
            assert answer.status_code == 200, address
            note = base64.b64decode(answer.headers["Huzhu-Log-Checkpoint"])
            signed = open_checkpoint(note, [verifier], origin="huzhu.example/log").checkpoint
            size = int(answer.headers["Huzhu-Log-Tree-Size"])
            assert signed.size == size == len(platform.plans) + 5, address
            assert signed.root_hash.hex() == answer.headers["Huzhu-Log-Root-Hash"]
            if address.endswith("json"):
                rows = json.loads(answer.text)
            else:
                rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
            assert "LATE" not in [row["subject"] for row in rows], address
            assert root_from_leaf_hashes([bytes.fromhex(row["leaf_hash"]) for row in rows]) == signed.root_hash, address
