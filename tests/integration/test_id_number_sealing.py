"""Resident ID numbers are never stored in clear: not by registration, not by a bulk import, and
not left behind by the migration that sealed the numbers of an existing database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import SecretStr
from sqlalchemy import insert, inspect, select, text

from huzhu.app import build_platform
from huzhu.clock import FixedClock
from huzhu.config import Settings
from huzhu.db import make_engine
from huzhu.errors import Conflict, InvalidInput
from huzhu.identity import make_resident_id
from huzhu.identity.sealing import IdNumberVault
from huzhu.members import service as members
from huzhu.members.models import Enrollment, Member
from huzhu.members.sealing import id_number_vault
from huzhu.members.service import rekey_members
from huzhu.migrate import downgrade, upgrade
from huzhu.models import Base
from huzhu.platform import Platform

from .helpers import import_pool, join_member


def test_the_vault_seals_with_a_random_nonce_and_refuses_another_key_or_tampering() -> None:
    vault, other = IdNumberVault("k" * 40), IdNumberVault("j" * 40)
    number = make_resident_id("450321", date(1990, 6, 15), 12, "F")
    assert vault.digest(number) == vault.digest(number) != other.digest(number)
    first, second = vault.seal(number), vault.seal(number)
    assert first != second and number not in first
    assert vault.unseal(first) == vault.unseal(second) == number
    with pytest.raises(InvalidTag):
        other.unseal(first)
    tampered = first[:-2] + ("A" if first[-2] != "A" else "B") + first[-1]
    with pytest.raises((InvalidTag, ValueError)):
        vault.unseal(tampered)
    assert vault.columns(number)["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]


def _every_stored_value(platform: Platform) -> str:
    with platform.factory() as s:
        return "\n".join(repr(tuple(row)) for table in Base.metadata.sorted_tables
                         for row in s.execute(select(*table.c)))


def test_no_table_holds_an_id_number_in_clear(platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    joined = join_member(platform, clock)
    pool = import_pool(platform, clock, tmp_path / "pool.csv", ["9.00", "6.00"])
    with platform.factory() as s:
        numbers = [s.get(Member, i).id_number for i in [joined.member_id, *pool]]  # type: ignore[union-attr]
        masked = s.get(Member, joined.member_id).id_number_masked  # type: ignore[union-attr]
    assert masked.startswith(numbers[0][:4]) and masked.endswith(numbers[0][-4:]) and "*" * 10 in masked
    stored = _every_stored_value(platform)
    for number in numbers:
        assert number not in stored
        assert number[6:17] not in stored  # not even the birth date with the order code

    # The digest still refuses a second registration of the same number, in any spelling.
    with platform.session() as s, pytest.raises(Conflict, match="already registered"):
        members.add_member(s, account_id=None, name="重复", id_number=numbers[1].lower(), now=clock.now())


def test_the_migration_seals_the_numbers_an_older_database_kept_in_clear(database_url: str, tmp_path: Path) -> None:
    # The platform's own engine: foreign keys on, as in a real database (a table that others
    # reference must still be rebuilt on SQLite).
    engine = make_engine(database_url)
    upgrade(engine, "0002")
    numbers = [make_resident_id("110101", date(1980 + n, 1, 1), n, "M") for n in range(3)]
    with engine.begin() as conn:
        for n, number in enumerate(numbers, start=1):
            conn.execute(text(
                "INSERT INTO ledger_accounts (id, kind, debits_must_not_exceed_credits, debits_posted, credits_posted,"
                " debits_pending, credits_pending, created_at) VALUES (:n, 'member_balance', true, 0, 0, 0, 0, :t)"),
                {"n": n, "t": datetime(2016, 1, 1, tzinfo=UTC)})
            conn.execute(text(
                "INSERT INTO members (id, relationship, name, id_number, birth_date, gender, region_code,"
                " ledger_account_id, created_at) VALUES (:n, 'self', '老会员', :number, :born, 'M', '110101', :n, :t)"),
                {"n": n, "number": number, "born": date(1980, 1, 1), "t": datetime(2016, 1, 1, tzinfo=UTC)})
            conn.execute(insert(Enrollment.__table__).values(
                member_id=n, ledger_account_id=n, plan_code="comprehensive-accident", status="active",
                joined_at=datetime(2016, 1, 1, tzinfo=UTC), joined_on=date(2016, 1, 1),
                coverage_anchor_on=date(2016, 1, 1), shares_from=date(2016, 1, 1),
                status_changed_at=datetime(2016, 1, 1, tzinfo=UTC)))

    upgrade(engine, id_number_key="migration-key-" + "m" * 30, data_dir=tmp_path)
    vault = IdNumberVault("migration-key-" + "m" * 30)
    assert "id_number" not in {c["name"] for c in inspect(engine).get_columns("members")}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, id_number_digest, id_number_sealed, id_number_masked FROM members"
                                 " ORDER BY id")).all()
    assert [vault.unseal(r.id_number_sealed) for r in rows] == numbers
    assert [r.id_number_digest for r in rows] == [vault.digest(n) for n in numbers]
    assert all("*" in r.id_number_masked and r.id_number_masked[6:14] == "********" for r in rows)
    if engine.dialect.name == "sqlite":  # not even in the file's free pages
        engine.dispose()
        stored = Path(database_url.split("///", 1)[1]).read_bytes()
        assert not any(n.encode() in stored for n in numbers)

    # And back: the downgrade unseals them into the clear column again.
    downgrade(engine, "0002", id_number_key="migration-key-" + "m" * 30, data_dir=tmp_path)
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT id_number FROM members ORDER BY id"))] == numbers
        assert conn.scalar(text("SELECT COUNT(*) FROM enrollments")) == 3
    engine.dispose()


def test_a_member_can_be_found_by_number_through_the_digest(platform: Platform, clock: FixedClock) -> None:
    joined = join_member(platform, clock)
    with platform.factory() as s:
        number = s.get(Member, joined.member_id).id_number  # type: ignore[union-attr]
        found = s.scalar(select(Member.id).where(Member.id_number_digest == id_number_vault(s).digest(number)))
    assert found == joined.member_id


NEW_KEY = "rotated-key-" + "r" * 32


def _sealed_columns(platform: Platform) -> list[tuple[int, str, str]]:
    with platform.factory() as s:
        return [tuple(r) for r in s.execute(select(Member.id, Member.id_number_digest, Member.id_number_sealed)
                                            .order_by(Member.id))]


def test_rekey_reseals_every_number_under_the_new_key(platform: Platform, clock: FixedClock, tmp_path: Path,
                                                      settings: Settings) -> None:
    joined = join_member(platform, clock)
    pool = import_pool(platform, clock, tmp_path / "pool.csv", ["9.00", "6.00", "3.00"])
    with platform.factory() as s:
        numbers = {i: s.get(Member, i).id_number for i in [joined.member_id, *pool]}  # type: ignore[union-attr]
    before = _sealed_columns(platform)

    with platform.session() as s:
        assert rekey_members(s, NEW_KEY) == len(numbers)
    after = _sealed_columns(platform)
    assert all(b[1] != a[1] and b[2] != a[2] for b, a in zip(before, after, strict=True))

    # The sealed personal data keeps its own root (HUZHU_SEAL_KEY, the old ID key here).
    rotated = build_platform(settings.model_copy(update={"id_number_key": SecretStr(NEW_KEY),
                                                         "seal_key": settings.id_number_key}), clock=clock)
    try:
        with rotated.factory() as s:
            assert {i: s.get(Member, i).id_number for i in numbers} == numbers  # type: ignore[union-attr]
        with rotated.session() as s, pytest.raises(Conflict, match="already registered"):
            members.add_member(s, account_id=None, name="重复", id_number=numbers[pool[0]], now=clock.now())
    finally:
        rotated.engine.dispose()
    with platform.factory() as s, pytest.raises(InvalidTag):  # the old key opens nothing any more
        _ = s.get(Member, joined.member_id).id_number  # type: ignore[union-attr]


def test_rekey_with_the_wrong_current_key_changes_nothing(platform: Platform, clock: FixedClock,
                                                          settings: Settings) -> None:
    join_member(platform, clock)
    before = _sealed_columns(platform)
    wrong = build_platform(settings.model_copy(update={"id_number_key": SecretStr("wrong-key-" + "w" * 30)}), clock=clock)
    try:
        with wrong.session() as s, pytest.raises(InvalidInput, match="does not open with the current key"):
            rekey_members(s, NEW_KEY)
        with wrong.session() as s, pytest.raises(InvalidInput, match="at least 32"):
            rekey_members(s, "short")
    finally:
        wrong.engine.dispose()
    assert _sealed_columns(platform) == before


def test_rekey_from_the_command_line(platform: Platform, clock: FixedClock, database_url: str) -> None:
    from typer.testing import CliRunner

    from huzhu.cli import app
    from huzhu.config import DEFAULT_ID_NUMBER_KEY, get_settings

    join_member(platform, clock)
    env = {"HUZHU_MODE": "sandbox", "HUZHU_DATABASE_URL": database_url, "HUZHU_NEW_ID_NUMBER_KEY": ""}
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(app, ["db", "rekey-id-numbers"], env=env)
        unpinned = CliRunner().invoke(app, ["db", "rekey-id-numbers"], env={**env, "HUZHU_NEW_ID_NUMBER_KEY": NEW_KEY})
        get_settings.cache_clear()
        done = CliRunner().invoke(app, ["db", "rekey-id-numbers"], env={
            **env, "HUZHU_NEW_ID_NUMBER_KEY": NEW_KEY, "HUZHU_SEAL_KEY": DEFAULT_ID_NUMBER_KEY})
    finally:
        get_settings.cache_clear()
    assert refused.exit_code == 1 and "HUZHU_NEW_ID_NUMBER_KEY" in refused.output
    # The sealed personal data hangs on the old key unless HUZHU_SEAL_KEY keeps it.
    assert unpinned.exit_code == 1 and "HUZHU_SEAL_KEY" in unpinned.output
    assert done.exit_code == 0, done.output
    assert "resealed 1 ID numbers" in done.output
