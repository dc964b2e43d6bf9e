"""One evidence store for every adapter: content-addressed files under the data directory, mode 0600,
relative paths; refusals leave nothing behind; files the old web form stored are moved in by the
migration and read like any other."""

from __future__ import annotations

import hashlib
import io
import stat
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from huzhu.accounts import service as accounts
from huzhu.claims import service as claims
from huzhu.claims.evidence import PayloadTooLarge, UnsupportedMediaType, add_evidence, open_evidence
from huzhu.claims.models import Evidence
from huzhu.clock import FixedClock
from huzhu.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from huzhu.migrate import downgrade, upgrade
from huzhu.platform import Platform
from integration.helpers import ACCIDENT, at, join_member, make_staff

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _claim(platform: Platform, clock: FixedClock) -> tuple[int, int]:
    clock.set(at("2016-01-01"))
    who = join_member(platform, clock)
    clock.set(at("2016-01-10"))
    with platform.session() as s:
        actor = accounts.account_or_raise(s, who.account_id)
        claim = claims.file_claim(s, plans=platform.plans, actor=actor, member_id=who.member_id, plan_code=ACCIDENT,
                                  benefit_code="accidental_disability", incident_date=date(2016, 1, 5), now=clock.now(),
                                  beneficiary_name="受益人", beneficiary_account="6222020000000000011")
        return claim.id, who.account_id


def test_documents_are_kept_once_by_content_with_private_files_and_relative_paths(
        platform: Platform, clock: FixedClock) -> None:
    claim_id, account_id = _claim(platform, clock)
    store = platform.evidence
    with platform.session() as s:
        actor = accounts.account_or_raise(s, account_id)
        claim = claims.claim_or_raise(s, claim_id)
        first = add_evidence(s, store, actor=actor, claim=claim, staged=store.stage(io.BytesIO(PDF), "../../etc/a.pdf"),
                             kind="medical", now=clock.now())
        again = add_evidence(s, store, actor=actor, claim=claim, staged=store.stage_bytes(PDF, "copy.pdf"),
                             kind="invoice", now=clock.now())
        ids = (first.id, again.id)
    digest = hashlib.sha256(PDF).hexdigest()
    with platform.factory() as s:
        rows = [s.get(Evidence, i) for i in ids]
        assert [r.storage_path for r in rows] == [f"{digest[:2]}/{digest}"] * 2
        assert rows[0].filename == "a.pdf" and rows[0].content_type == "application/pdf"
        evidence, path = open_evidence(s, store, actor=accounts.account_or_raise(s, account_id), evidence_id=ids[0])
        assert store.read_bytes(evidence) == PDF  # opened for a reader ...
    assert path == platform.settings.data_dir / "evidence" / digest[:2] / digest
    assert path.read_bytes()[:4] == b"HZF1" and b"%PDF" not in path.read_bytes()  # ... sealed on disk
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in (platform.settings.data_dir / "evidence").rglob("*") if p.is_file()) == [digest]


def test_refused_uploads_leave_no_file_and_no_row(platform: Platform, clock: FixedClock) -> None:
    claim_id, account_id = _claim(platform, clock)
    platform.settings.max_upload_bytes = 64
    store = platform.evidence
    with pytest.raises(UnsupportedMediaType, match="not a PDF, JPEG or PNG"):
        store.stage_bytes(b"MZ\x90\x00 an executable", "x.pdf")
    with pytest.raises(InvalidInput, match="empty"):
        store.stage_bytes(b"", "e.pdf")
    with pytest.raises(PayloadTooLarge):
        store.stage_bytes(PNG + b"\x00" * 100, "big.png")
    with platform.session() as s:
        staged = store.stage_bytes(PNG, "scan.png")
        with pytest.raises(InvalidInput, match="evidence kind"):
            add_evidence(s, store, actor=accounts.account_or_raise(s, account_id),
                         claim=claims.claim_or_raise(s, claim_id), staged=staged, kind="x-ray", now=clock.now())
        store.discard(staged)
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
    assert [p for p in (platform.settings.data_dir / "evidence").rglob("*") if p.is_file()] == []


def test_who_may_add_and_read_documents(platform: Platform, clock: FixedClock) -> None:
    staff = make_staff(platform, clock)
    claim_id, account_id = _claim(platform, clock)
    stranger = join_member(platform, clock, name="旁人")
    store = platform.evidence
    with platform.session() as s:
        claim = claims.claim_or_raise(s, claim_id)
        investigator = accounts.account_or_raise(s, staff.investigator_id)
        with pytest.raises(NotFound):
            add_evidence(s, store, actor=accounts.account_or_raise(s, stranger.account_id), claim=claim,
                         staged=store.stage_bytes(PDF, "a.pdf"), kind="other", now=clock.now())
        with pytest.raises(Forbidden, match="assigned"):
            add_evidence(s, store, actor=investigator, claim=claim, staged=store.stage_bytes(PDF, "a.pdf"),
                         kind="other", now=clock.now())
        with pytest.raises(Forbidden):
            add_evidence(s, store, actor=accounts.account_or_raise(s, staff.admin_id), claim=claim,
                         staged=store.stage_bytes(PDF, "a.pdf"), kind="other", now=clock.now())
        evidence = add_evidence(s, store, actor=accounts.account_or_raise(s, account_id), claim=claim,
                                staged=store.stage_bytes(PDF, "a.pdf"), kind="medical", now=clock.now())
        claims.start_investigation(s, actor=investigator, claim_id=claim_id, now=clock.now())
        add_evidence(s, store, actor=investigator, claim=claim, staged=store.stage_bytes(PNG, "site.png"),
                     kind="police", now=clock.now())
        claims.submit_report(s, actor=investigator, claim_id=claim_id, company="调查公司", summary="属实。",
                             confirmed_incident_date=date(2016, 1, 5), now=clock.now(),
                             facts={"disability_grades": [5]})
        with pytest.raises(InvalidTransition, match="evidence is closed"):
            add_evidence(s, store, actor=accounts.account_or_raise(s, account_id), claim=claim,
                         staged=store.stage_bytes(PDF, "late.pdf"), kind="other", now=clock.now())
        evidence_id = evidence.id
    with platform.factory() as s:
        for reader in (account_id, staff.investigator_id, staff.reviewer_id, staff.admin_id):
            assert store.read_bytes(open_evidence(s, store, actor=accounts.account_or_raise(s, reader),
                                                  evidence_id=evidence_id)[0]) == PDF
        with pytest.raises(NotFound):
            open_evidence(s, store, actor=accounts.account_or_raise(s, stranger.account_id), evidence_id=evidence_id)
        with pytest.raises(NotFound):  # the right document asked for under another claim
            open_evidence(s, store, actor=accounts.account_or_raise(s, account_id), evidence_id=evidence_id,
                          claim_id=claim_id + 1)


def test_the_migration_moves_documents_the_web_form_stored_under_the_working_directory(
        platform: Platform, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    claim_id, account_id = _claim(platform, clock)
    monkeypatch.chdir(tmp_path)
    legacy = {  # how web/member.py stored them before: data/evidence/<claim no>/<digest[:32]>.<ext>
        "relative": (PDF, Path("data/evidence/HZC00000001") / f"{hashlib.sha256(PDF).hexdigest()[:32]}.pdf"),
        "absolute": (PNG, tmp_path / "old" / "evidence" / "HZC00000001" / "scan.png"),
    }
    with platform.engine.begin() as conn:
        for name, (data, path) in legacy.items():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_bytes(data)
            conn.execute(text(
                "INSERT INTO claim_evidence (claim_id, kind, filename, content_type, size_bytes, sha256, storage_path,"
                " uploaded_by_account_id, uploaded_at) VALUES (:c, 'medical', :f, 'application/pdf', :n, :h, :p, :a, :t)"),
                {"c": claim_id, "f": name, "n": len(data), "h": hashlib.sha256(data).hexdigest(), "p": str(path),
                 "a": account_id, "t": clock.now()})
        conn.execute(text(
            "INSERT INTO claim_evidence (claim_id, kind, filename, content_type, size_bytes, sha256, storage_path,"
            " uploaded_by_account_id, uploaded_at) VALUES (:c, 'other', 'gone', 'application/pdf', 1, :h,"
            " 'data/evidence/HZC00000001/gone.pdf', :a, :t)"),
            {"c": claim_id, "h": "0" * 64, "a": account_id, "t": clock.now()})

    downgrade(platform.engine, "0003")
    upgrade(platform.engine, data_dir=platform.settings.data_dir)

    with platform.factory() as s:
        owner = accounts.account_or_raise(s, account_id)
        by_name = {e.filename: e for e in s.scalars(select(Evidence))}
        for name, (data, path) in legacy.items():
            evidence, stored = open_evidence(s, platform.evidence, actor=owner, evidence_id=by_name[name].id)
            assert platform.evidence.read_bytes(evidence) == data and stored.is_relative_to(platform.settings.data_dir)
            assert stored.read_bytes()[:4] == b"HZF1"  # the migration sealed the moved file
            assert not (tmp_path / path).exists()
        assert by_name["gone"].storage_path == "data/evidence/HZC00000001/gone.pdf"  # left as it was, never guessed
        with pytest.raises(NotFound, match="missing"):
            open_evidence(s, platform.evidence, actor=owner, evidence_id=by_name["gone"].id)
