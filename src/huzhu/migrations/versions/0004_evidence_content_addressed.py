"""evidence documents content-addressed under the data directory: files the web form stored under
``evidence/<claim no>/…`` (with a path relative to the server's working directory) move to
``evidence/<aa>/<sha256>`` and their rows record that relative path, as API uploads already did

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.evidence")
STORED = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")


def _data_dir() -> Path:
    from huzhu.config import get_settings

    config = op.get_context().config
    return Path((config.attributes.get("data_dir") if config is not None else None) or get_settings().data_dir)


def _find(storage_path: str, data_dir: Path) -> Path | None:
    """The legacy file: the recorded path as it was (absolute, or relative to the working
    directory), else the same path re-rooted at the data directory."""
    recorded = Path(storage_path)
    candidates = [recorded]
    parts = recorded.parts
    if "evidence" in parts:
        candidates.append(data_dir / Path(*parts[parts.index("evidence"):]))
    return next((c for c in candidates if c.is_file()), None)


def upgrade() -> None:
    data_dir = _data_dir()
    root = data_dir / "evidence"
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, storage_path, sha256 FROM claim_evidence")).all()
    for row in rows:
        if STORED.match(row.storage_path):
            continue
        source = _find(row.storage_path, data_dir)
        if source is None:
            # The file is gone; the row stays and the document reads as missing (never guessed).
            log.warning("evidence %s: no file at %s", row.id, row.storage_path)
            continue
        data = source.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != row.sha256:
            log.warning("evidence %s: the file at %s does not match its recorded SHA-256", row.id, source)
            continue
        target = root / digest[:2] / digest
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = target.with_suffix(".migrating")
            tmp.write_bytes(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        bind.execute(sa.text("UPDATE claim_evidence SET storage_path = :path WHERE id = :id"),
                     {"path": f"{digest[:2]}/{digest}", "id": row.id})
        source.unlink()


def downgrade() -> None:
    # Content-addressed paths are valid for every reader since this revision; nothing to undo.
    pass
