"""Personal data sealed at rest (huzhu.sealing), key rotation while running, and backup/restore
(huzhu.backup), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect, select, text

from huzhu.accounts import service as accounts
from huzhu.app import build_platform
from huzhu.backup import BackupError, backup, restore
from huzhu.claims import service as claims
from huzhu.claims.evidence import add_evidence
from huzhu.claims.models import Claim, Evidence
from huzhu.clock import FixedClock
from huzhu.config import Settings
from huzhu.db import reset_database
from huzhu.members.models import Member
from huzhu.models import Base
from huzhu.platform import Platform
from huzhu.sealing.keyring import SealError, keyring_for_dialect, retire, rotate
from huzhu.sealing.reseal import reseal_all, sealed_columns, usage
from integration.helpers import ACCIDENT, approved_case, at, join_member, make_staff

NAME, PHONE, ACCOUNT = "欧阳秘密", "13912345678", "6222029999888877776"
PAYEE, STORY = "欧阳受益", "骑车摔伤右腿，住院十二天"
PDF = b"%PDF-1.4\n" + "病历 欧阳秘密".encode() + b"\n%%EOF\n"
SECRETS = [NAME, PHONE, ACCOUNT, PAYEE, STORY]


def _story(platform: Platform, clock: FixedClock) -> tuple[int, int, int]:
    clock.set(at("2016-01-01"))
    who = join_member(platform, clock, name=NAME, phone=PHONE)
    clock.set(at("2016-01-10"))
    store = platform.evidence
    with platform.session() as s:
        actor = accounts.account_or_raise(s, who.account_id)
        claim = claims.file_claim(s, plans=platform.plans, actor=actor, member_id=who.member_id, plan_code=ACCIDENT,
                                  benefit_code="accidental_disability", incident_date=date(2016, 1, 5),
                                  now=clock.now(), beneficiary_name=PAYEE, beneficiary_account=ACCOUNT,
                                  description=STORY)
        evidence = add_evidence(s, store, actor=actor, claim=claim, staged=store.stage(io.BytesIO(PDF), f"{NAME}.pdf"),
                                kind="medical", now=clock.now())
        return who.member_id, claim.id, evidence.id


def _raw_text(platform: Platform) -> str:
    """Everything the database holds, as its owner would see it without the keys."""
    if platform.engine.dialect.name == "sqlite":
        platform.engine.dispose()
        path = Path(platform.engine.url.database)
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return raw.decode("utf-8", "replace")
    with platform.engine.connect() as conn:
        tables = inspect(conn).get_table_names()  # every table there is, at whatever revision
        return "\n".join(str(row) for name in tables
                         for row in conn.execute(text(f'SELECT * FROM "{name}"')))  # noqa: S608


def _opens(platform: Platform, member_id: int, claim_id: int, evidence_id: int) -> None:
    with platform.factory() as s:
        assert s.get(Member, member_id).name == NAME
        claim = s.get(Claim, claim_id)
        assert (claim.beneficiary_name, claim.beneficiary_account, claim.description) == (PAYEE, ACCOUNT, STORY)
        assert accounts.find_account_by_login(s, PHONE).phone == PHONE  # login by phone: the keyed digest
        evidence = s.get(Evidence, evidence_id)
        assert evidence.filename == f"{NAME}.pdf"
        assert platform.evidence.read_bytes(evidence) == PDF


def test_personal_data_is_sealed_in_the_database_and_on_disk(platform: Platform, clock: FixedClock) -> None:
    ids = _story(platform, clock)
    with platform.session() as s:  # a wrong password: the per-login counter holds no phone either
        attempt = accounts.begin_login(s, login=PHONE, client_ip="10.0.0.9", now=clock.now(), challenge_key="k")
        accounts.record_login_failure(s, attempt, now=clock.now())
    _opens(platform, *ids)
    raw = _raw_text(platform)
    assert [secret for secret in SECRETS if secret in raw] == []
    assert "hz1.k0." in raw  # sealed values, with their key id
    files = [p for p in (platform.settings.data_dir / "evidence").rglob("*") if p.is_file()]
    assert len(files) == 1 and "欧阳秘密".encode() not in files[0].read_bytes()


def test_a_changed_sealed_value_does_not_open(platform: Platform, clock: FixedClock) -> None:
    member_id, _, _ = _story(platform, clock)
    with platform.engine.begin() as conn:
        sealed = conn.scalar(text("SELECT name FROM members WHERE id = :i"), {"i": member_id})
        flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
        conn.execute(text("UPDATE members SET name = :v WHERE id = :i"), {"v": flipped, "i": member_id})
    with platform.factory() as s, pytest.raises(SealError):
        s.scalar(select(Member.name).where(Member.id == member_id))


def test_rotate_reseal_and_retire_while_readable_throughout(platform: Platform, clock: FixedClock) -> None:
    ids = _story(platform, clock)
    keyring = keyring_for_dialect(platform.engine.dialect)
    columns = sealed_columns(Base.metadata)
    root = platform.settings.data_dir / "evidence"
    assert rotate(keyring) == "k1" and keyring.current == "k1"
    _opens(platform, *ids)  # old values still open under k0
    with platform.session() as s:  # new writes use k1
        accounts.find_account_by_login(s, PHONE).display_name = "欧阳新名"
    with platform.engine.connect() as conn:
        before = usage(conn, keyring, columns, root)
    assert before["k1"] == 1 and before["k0"] > 5
    with pytest.raises(SealError, match="current"):
        retire(keyring, "k1")
    done = reseal_all(platform.engine, keyring, columns, root)
    assert done["evidence files"] == 1 and sum(done.values()) == before["k0"]
    with platform.engine.connect() as conn:
        assert usage(conn, keyring, columns, root) == {"k1": before["k0"] + before["k1"]}
    retire(keyring, "k0")
    assert keyring.key_ids == ["k1"]
    _opens(platform, *ids)
    # A server process started now knows only k1 and reads everything.
    fresh = build_platform(platform.settings, clock=clock, migrate=False)
    try:
        _opens(fresh, *ids)
    finally:
        fresh.engine.dispose()


def test_retire_is_refused_from_the_command_line_while_a_key_is_used(platform: Platform, clock: FixedClock,
                                                                    settings: Settings) -> None:
    from typer.testing import CliRunner

    from huzhu.cli import app
    from huzhu.config import get_settings

    _story(platform, clock)
    env = {"HUZHU_MODE": "sandbox", "HUZHU_DATABASE_URL": settings.database_url,
           "HUZHU_DATA_DIR": str(settings.data_dir), "HUZHU_PLANS_DIR": str(settings.plans_dir)}
    get_settings.cache_clear()
    try:
        rotated = CliRunner().invoke(app, ["keys", "rotate"], env=env)
        refused = CliRunner().invoke(app, ["keys", "retire", "k0"], env=env)
        resealed = CliRunner().invoke(app, ["keys", "reseal", "--batch", "2"], env=env)
        retired = CliRunner().invoke(app, ["keys", "retire", "k0"], env=env)
        status = CliRunner().invoke(app, ["keys", "status"], env=env)
    finally:
        get_settings.cache_clear()
    assert rotated.exit_code == 0 and "k1 is now the current key" in rotated.output
    assert refused.exit_code == 1 and "k0 still seals" in refused.output
    assert resealed.exit_code == 0, resealed.output
    assert retired.exit_code == 0, retired.output
    assert status.exit_code == 0 and "k0" not in status.output


def _wipe(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite"):
        path = Path(settings.database_url.split("///", 1)[1])
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
    else:
        reset_database(settings.database_url)
    shutil.rmtree(settings.data_dir / "evidence")
    shutil.rmtree(settings.data_dir / "provable", ignore_errors=True)


def test_the_published_sum_trees_travel_with_the_backup(platform: Platform, clock: FixedClock,
                                                        settings: Settings, tmp_path: Path) -> None:
    clock.set(at("2016-01-01"))
    _story(platform, clock)
    level_file = settings.data_dir / "provable" / "shares" / "HZ000001.levels"  # as a run writes it
    level_file.parent.mkdir(parents=True)
    level_file.write_bytes(bytes(range(200)))
    dest = tmp_path / "backup"
    manifest = backup(platform, dest)
    assert "provable/shares/HZ000001.levels" in manifest["parts"]
    platform.engine.dispose()

    tampered = tmp_path / "tampered"
    shutil.copytree(dest, tampered)
    (tampered / "provable/shares/HZ000001.levels").write_bytes(bytes(range(1, 201)))
    with pytest.raises(BackupError, match="altered"):
        restore(settings, tampered, force=True)

    _wipe(settings)
    assert not level_file.exists()
    assert restore(settings, dest).problems == []
    assert level_file.read_bytes() == bytes(range(200))


def test_backup_wipe_restore_and_refusals(platform: Platform, clock: FixedClock, settings: Settings,
                                          tmp_path: Path) -> None:
    clock.set(at("2016-01-01"))
    other = join_member(platform, clock, name="另一会员")  # an approved case: a record in the public log
    ids = _story(platform, clock)
    approved_case(platform, clock, make_staff(platform, clock), other, plan=ACCIDENT,
                  benefit="accidental_disability", incident=date(2016, 1, 6), report_facts={"disability_grades": [5]})
    dest = tmp_path / "backup"
    manifest = backup(platform, dest)
    assert manifest["key_ids"] == ["k0"] and manifest["log_head"]["tree_size"] >= 1
    assert any(p.startswith("evidence/") for p in manifest["parts"])
    platform.engine.dispose()

    with pytest.raises(BackupError, match="not empty"):
        restore(settings, dest)
    wrong = settings.model_copy(update={"seal_key": SecretStr("another-deployment-" + "x" * 30)})
    with pytest.raises(BackupError, match="keys cannot open"):
        restore(wrong, dest, force=True)

    tampered = tmp_path / "tampered"
    shutil.copytree(dest, tampered)
    part = next(p for p in json.loads((dest / "manifest.json").read_text())["parts"] if p.startswith("evidence/"))
    data = bytearray((tampered / part).read_bytes())
    data[-1] ^= 1
    (tampered / part).write_bytes(bytes(data))
    with pytest.raises(BackupError, match="altered"):
        restore(settings, tampered, force=True)
    forged = json.loads((dest / "manifest.json").read_text())
    forged["log_head"]["tree_size"] += 1
    (tampered / part).write_bytes((dest / part).read_bytes())
    (tampered / "manifest.json").write_text(json.dumps(forged))
    with pytest.raises(BackupError, match="manifest was altered"):
        restore(settings, tampered, force=True)

    _wipe(settings)
    report = restore(settings, dest)
    assert report.problems == []
    restored = build_platform(settings, clock=clock, migrate=False)
    try:
        _opens(restored, *ids)
    finally:
        restored.engine.dispose()
    forced = restore(settings, dest, force=True)  # into a non-empty database when asked
    assert forced.problems == []


def test_the_migration_seals_what_an_older_database_kept_in_clear(platform: Platform, clock: FixedClock) -> None:
    from huzhu.migrate import downgrade, upgrade

    ids = _story(platform, clock)
    data_dir = platform.settings.data_dir
    downgrade(platform.engine, "0010", data_dir=data_dir)  # as the data was before 0011
    raw = _raw_text(platform)
    assert all(secret in raw for secret in [NAME, PHONE, ACCOUNT, PAYEE]), "the downgrade unseals"
    assert next((data_dir / "evidence").glob("??/*")).read_bytes() == PDF
    upgrade(platform.engine, data_dir=data_dir)
    raw = _raw_text(platform)
    assert [secret for secret in SECRETS if secret in raw] == []
    _opens(platform, *ids)


def test_a_running_server_reads_values_sealed_under_a_key_another_process_added(
        platform: Platform, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    import huzhu.sealing.keyring as keyring_module

    ids = _story(platform, clock)
    server = keyring_for_dialect(platform.engine.dialect)
    operator = build_platform(platform.settings, clock=clock, migrate=False)  # `huzhu keys rotate` and `reseal`
    try:
        op_keyring = keyring_for_dialect(operator.engine.dialect)
        assert rotate(op_keyring) == "k1"
        reseal_all(operator.engine, op_keyring, sealed_columns(Base.metadata), operator.settings.data_dir / "evidence")
    finally:
        operator.engine.dispose()
    assert server.current == "k0"  # not yet looked at the file ...
    _opens(platform, *ids)  # ... yet opens k1 values: an unknown key id reloads the keyring at once
    monkeypatch.setattr(keyring_module, "RELOAD_SECONDS", 0.0)
    with platform.session() as s:
        accounts.find_account_by_login(s, PHONE).display_name = "新名"
    assert server.current == "k1"
    with platform.engine.connect() as conn:
        assert set(usage(conn, server, sealed_columns(Base.metadata))) == {"k1"}


def test_backup_and_restore_from_the_command_line(platform: Platform, clock: FixedClock, settings: Settings,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from huzhu.cli import app
    from huzhu.config import get_settings

    ids = _story(platform, clock)
    platform.engine.dispose()
    env = {"HUZHU_MODE": "sandbox", "HUZHU_DATABASE_URL": settings.database_url,
           "HUZHU_DATA_DIR": str(settings.data_dir), "HUZHU_PLANS_DIR": str(settings.plans_dir)}
    get_settings.cache_clear()
    try:
        made = CliRunner().invoke(app, ["backup", str(tmp_path / "b")], env=env)
        again = CliRunner().invoke(app, ["backup", str(tmp_path / "b")], env=env)
        _wipe(settings)
        get_settings.cache_clear()
        wrong = CliRunner().invoke(app, ["restore", str(tmp_path / "b")],
                                   env={**env, "HUZHU_SEAL_KEY": "someone-else-" + "z" * 30})
        get_settings.cache_clear()
        restored = CliRunner().invoke(app, ["restore", str(tmp_path / "b")], env=env)
        checked = CliRunner().invoke(app, ["ledger", "check"], env=env)
    finally:
        get_settings.cache_clear()
    def said(result) -> str:  # noqa: ANN001 (Rich wraps long lines)
        return " ".join(result.output.split())

    assert made.exit_code == 0 and "keys needed k0" in said(made), made.output
    assert again.exit_code == 1 and "not empty" in said(again)
    assert wrong.exit_code == 1 and "keys cannot open" in said(wrong)
    assert restored.exit_code == 0 and "public log head matches" in said(restored), restored.output
    assert checked.exit_code == 0, checked.output
    back = build_platform(settings, clock=clock, migrate=False)
    try:
        _opens(back, *ids)
    finally:
        back.engine.dispose()


def test_a_missing_pg_dump_is_named(platform: Platform, clock: FixedClock, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("pg_dump is PostgreSQL's")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BackupError, match="pg_dump is not installed.*postgresql-client"):
        backup(platform, tmp_path / "b")
