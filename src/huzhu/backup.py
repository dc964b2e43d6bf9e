"""Backups and restores of a whole deployment: the database, the evidence files, and a manifest.

A backup is a directory:

* ``database.sqlite`` (SQLite's online backup API: a consistent copy while the server writes) or
  ``database.pgdump`` (``pg_dump`` custom format);
* ``evidence/<xx>/<sha256>``: the evidence files as stored (sealed);
* ``provable/<kind>/…``: the published sum trees and run files the proofs are read from;
* ``manifest.json``: the SHA-256 of every part, the Alembic revision, the key ids (and their
  public fingerprints) the sealed data needs, a canary value sealed under the current key, and the
  public log's head (tree size and root); authenticated with an HMAC under a key derived from the
  current sealing key (``manifest.mac``).

A restore checks all of that before it writes anything: the manifest's HMAC and every part's
digest (a tampered backup is refused), that the configured keys open the canary and hold every key
id needed (a backup from another deployment, or after a key was lost, is refused), and that the
target database is empty unless ``force``. Afterwards it runs the ledger check and compares the
public log's head and the revision with the manifest. The keyring file is never in a backup: keep
it (and ``HUZHU_SEAL_KEY``/``HUZHU_ID_NUMBER_KEY``) apart from them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import inspect, text

from huzhu.sealing.keyring import SealError, keyring_for_dialect, mac

FORMAT = "huzhu-backup-1"
CANARY = "huzhu backup canary"
# The data directory's folders a backup carries besides the database: sealed evidence files and
# the published sum trees (huzhu.provable.store).
PROVABLE = "provable"
FILE_FOLDERS = ("evidence", PROVABLE)
FILE_PREFIXES = tuple(f"{folder}/" for folder in FILE_FOLDERS)
MANIFEST = "manifest.json"


class BackupError(Exception):
    """A backup or restore refused, with the reason."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL's client tools: apt-get install postgresql-client)")
    return found


def _libpq_url(url) -> str:  # noqa: ANN001
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url) -> Path:  # noqa: ANN001
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _revision(connection) -> str | None:  # noqa: ANN001
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.scalar(text("SELECT version_num FROM alembic_version"))


def _log_head(platform) -> dict:  # noqa: ANN001
    from huzhu.transparency.service import tree_head

    with platform.factory() as session:
        return tree_head(session)


def _canonical(manifest: dict) -> bytes:
    return json.dumps({k: v for k, v in manifest.items() if k != "mac"}, sort_keys=True,
                      ensure_ascii=False).encode("utf-8")


def backup(platform, dest: Path, *, now: datetime | None = None) -> dict:  # noqa: ANN001
    """Write a backup of ``platform`` into the new or empty directory ``dest``; returns the manifest."""
    from huzhu.models import Base
    from huzhu.sealing.reseal import evidence_files, sealed_columns, usage

    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    keyring = keyring_for_dialect(platform.engine.dialect)
    url = platform.engine.url
    evidence_root = platform.settings.data_dir / "evidence"
    with platform.engine.connect() as connection:
        revision = _revision(connection)
        counts = usage(connection, keyring, sealed_columns(Base.metadata), evidence_root)
    if counts.get("plaintext"):
        raise BackupError(f"{counts['plaintext']} values or files are not sealed; run `huzhu db upgrade` first")
    head = _log_head(platform)
    if url.get_backend_name() == "sqlite":
        database = dest / "database.sqlite"
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(database)
        try:
            with target:
                source.backup(target)  # the online backup API: consistent while others write
        finally:
            target.close()
            source.close()
    else:
        database = dest / "database.pgdump"
        done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(database),
                               "--dbname", _libpq_url(url)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
    parts = {database.name: sha256_file(database)}
    for path in evidence_files(evidence_root):
        relative = f"evidence/{path.parent.name}/{path.name}"
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / relative)
        parts[relative] = sha256_file(dest / relative)
    # The published sum trees (levels, keys, run files): the proofs members and auditors ask for are
    # read from them, and the log holds their roots, so a restore without them could prove nothing.
    provable_root = platform.settings.data_dir / PROVABLE
    for path in sorted(p for p in provable_root.rglob("*") if p.is_file()):
        relative = path.relative_to(platform.settings.data_dir).as_posix()
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / relative)
        parts[relative] = sha256_file(dest / relative)
    needed = sorted(k for k, n in counts.items() if n)
    manifest = {
        "format": FORMAT,
        "created_at": (now or platform.wall_clock.now()).isoformat(),
        "backend": url.get_backend_name(),
        "database": database.name,
        "alembic_revision": revision,
        "parts": parts,
        "key_ids": needed,
        "key_fingerprints": {kid: keyring.fingerprint(kid) for kid in needed},
        "mac_key_id": keyring.current,
        "canary": keyring.seal(CANARY),
        "log_head": head,
    }
    manifest["mac"] = mac(keyring, keyring.current, _canonical(manifest))
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
    return manifest


@dataclass
class RestoreReport:
    manifest: dict
    problems: list[str] = field(default_factory=list)


def check_backup(src: Path, keyring) -> dict:  # noqa: ANN001
    """The manifest of the backup in ``src`` once it is proven whole and openable with ``keyring``."""
    try:
        manifest = json.loads((src / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} holds no readable {MANIFEST}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src} is not a {FORMAT} backup")
    missing = [kid for kid in manifest.get("key_ids", []) + [manifest.get("mac_key_id")] if kid not in keyring.key_ids]
    if missing:
        raise BackupError(f"the configured keys cannot open this backup: it needs key(s) {', '.join(missing)}")
    try:
        if keyring.unseal(manifest["canary"]) != CANARY:
            raise SealError("canary")
    except (SealError, KeyError) as exc:
        raise BackupError("the configured keys cannot open this backup (its sealed canary does not open)") from exc
    for kid, fingerprint in manifest.get("key_fingerprints", {}).items():
        if keyring.fingerprint(kid) != fingerprint:
            raise BackupError(f"the configured key {kid} is not the key this backup was sealed with")
    if mac(keyring, manifest["mac_key_id"], _canonical(manifest)) != manifest.get("mac"):
        raise BackupError("the manifest was altered (its HMAC does not match)")
    for relative, digest in manifest["parts"].items():
        path = src / relative
        if ".." in Path(relative).parts or not path.is_file():
            raise BackupError(f"part {relative} is missing")
        if sha256_file(path) != digest:
            raise BackupError(f"part {relative} was altered (SHA-256 does not match the manifest)")
    return manifest


def _is_empty(engine) -> bool:  # noqa: ANN001
    with engine.connect() as connection:
        return not inspect(connection).get_table_names()


def restore(settings, src: Path, *, force: bool = False) -> RestoreReport:  # noqa: ANN001
    """Restore the backup in ``src`` into the database and data directory of ``settings``."""
    from huzhu.app import build_platform
    from huzhu.db import ensure_database, make_engine
    from huzhu.sealing.keyring import attach_keyring, load_keyring

    keyring = load_keyring(settings)
    manifest = check_backup(src, keyring)
    ensure_database(settings.database_url)
    engine = make_engine(settings.database_url)
    attach_keyring(engine, keyring)
    url = engine.url
    try:
        if url.get_backend_name() != manifest["backend"]:
            raise BackupError(f"this backup is of a {manifest['backend']} database; the target is "
                              f"{url.get_backend_name()}")
        if not _is_empty(engine) and not force:
            raise BackupError("the target database is not empty (pass --force to replace it)")
        database = src / manifest["database"]
        if manifest["backend"] == "sqlite":
            target_path = _sqlite_path(url)
            engine.dispose()
            target_path.parent.mkdir(parents=True, exist_ok=True)
            source = sqlite3.connect(database)
            target = sqlite3.connect(target_path)
            try:
                with target:
                    source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()
            done = subprocess.run([_tool("pg_restore"), "--no-owner", "--exit-on-error", "--dbname",
                                   _libpq_url(url), str(database)], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    finally:
        engine.dispose()
    for folder in FILE_FOLDERS:
        root = settings.data_dir / folder
        if root.exists() and any(root.iterdir()):
            root.rename(root.with_name(f"{folder}.before-restore-{os.getpid()}"))
    for relative in manifest["parts"]:
        if relative.startswith(FILE_PREFIXES):
            target = settings.data_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
                handle.write((src / relative).read_bytes())
            os.chmod(handle.name, 0o600)
            os.replace(handle.name, target)
    return RestoreReport(manifest=manifest, problems=verify_restored(build_platform(settings, migrate=False), manifest))


def verify_restored(platform, manifest: dict) -> list[str]:  # noqa: ANN001
    """The ledger check's findings, and any difference from the manifest (revision, log head, files)."""
    from huzhu.ledger.invariants import check_ledger
    from huzhu.transparency.service import tree_head, verify_chain

    problems = []
    try:
        with platform.factory() as session:
            problems += [f"{v.invariant}: {v.message}" for v in check_ledger(session)]
            problems += [f"public_record_chain: {p}" for p in verify_chain(session)]
            head = tree_head(session)
        with platform.engine.connect() as connection:
            revision = _revision(connection)
    finally:
        platform.engine.dispose()
    if head != manifest["log_head"]:
        problems.append(f"public log head {head} differs from the backup's {manifest['log_head']}")
    if revision != manifest["alembic_revision"]:
        problems.append(f"schema revision {revision} differs from the backup's {manifest['alembic_revision']}")
    for relative, digest in manifest["parts"].items():
        if relative.startswith(FILE_PREFIXES):
            path = platform.settings.data_dir / relative
            if not path.is_file() or sha256_file(path) != digest:
                problems.append(f"file {relative} was not restored intact")
    return problems
