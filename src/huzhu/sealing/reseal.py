"""Re-sealing under the current key, while the server runs, and what each key still opens.

Every ``SealedText`` column in the metadata is found on its own (nothing to register). A column is
walked in id order, a batch at a time: the rows of the batch not yet under the current key are
read raw, opened, sealed again, and written back with one statement per batch that changes a row
only if it still holds the value read (``WHERE id = :id AND col = :old``), so a concurrent write by
the server is never overwritten; such a row is already under the server's key, or is found by the
next pass. The evidence files are re-sealed one by one, each replaced atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from huzhu.sealing.files import is_sealed_file, key_id_of_file, reseal_file
from huzhu.sealing.keyring import PREFIX, Keyring, SealError, is_sealed, like_pattern
from huzhu.sealing.types import SealedText

BATCH = 2_000
PLAIN = "plaintext"


@dataclass(frozen=True)
class SealedColumn:
    table: str
    column: str
    key: str = "id"

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"

    def raw(self) -> sa.TableClause:
        return sa.table(self.table, sa.column(self.key, sa.BigInteger), sa.column(self.column, sa.Text))


def sealed_columns(metadata: sa.MetaData) -> list[SealedColumn]:
    """Every column of type ``SealedText`` in ``metadata`` (``huzhu.models.Base.metadata``)."""
    found = []
    for table in metadata.sorted_tables:
        keys = [c.name for c in table.primary_key.columns]
        for column in table.columns:
            if isinstance(column.type, SealedText):
                if len(keys) != 1:
                    raise TypeError(f"{table.name}.{column.name}: a sealed column needs a table with a one-column key")
                found.append(SealedColumn(table.name, column.name, keys[0]))
    return found


def evidence_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.glob("??/*")):
            if path.is_file() and not path.name.startswith("."):
                yield path


def usage(connection: Connection, keyring: Keyring, columns: list[SealedColumn],
          evidence_root: Path | None = None) -> dict[str, int]:
    """How many stored values (and evidence files) each key id opens, plus ``plaintext`` for values
    not sealed at all (none, once migration 0011 has run). One counting scan per column and key."""
    counts: dict[str, int] = {}
    for col in columns:
        t = col.raw()
        c = t.c[col.column]
        stmt = sa.select(sa.func.count()).select_from(t).where(c.is_not(None))
        total = connection.scalar(stmt) or 0
        known = 0
        for kid in sorted({*keyring.key_ids, *_foreign_key_ids(connection, col)}):
            n = connection.scalar(stmt.where(c.like(like_pattern(kid)))) or 0
            if n:
                counts[kid] = counts.get(kid, 0) + n
                known += n
        if total - known:
            counts[PLAIN] = counts.get(PLAIN, 0) + total - known
    if evidence_root is not None:
        for path in evidence_files(evidence_root):
            kid = key_id_of_file(path) if is_sealed_file(path) else PLAIN
            counts[kid] = counts.get(kid, 0) + 1
    return counts


def _foreign_key_ids(connection: Connection, col: SealedColumn) -> set[str]:
    """Key ids present in a column but absent from the keyring (at most a few distinct values)."""
    t = col.raw()
    c = t.c[col.column]
    head = sa.func.substr(c, 1, 12)
    rows = connection.execute(sa.select(head).where(c.like(PREFIX + "%")).distinct().limit(50)).scalars()
    return {value.split(".")[1] for value in rows if value and value.count(".") >= 2}


def reseal_column(bind: Engine | Connection, keyring: Keyring, col: SealedColumn, *, seal_plaintext: bool = False,
                  batch: int = BATCH, progress: Callable[[int], None] | None = None) -> int:
    """Re-seal one column's values under the current key, a batch per transaction (or all in the
    caller's transaction when given a connection: the migration); returns how many changed.
    ``seal_plaintext`` (migration only) seals values that are not sealed yet."""
    t = col.raw()
    key, value = t.c[col.key], t.c[col.column]
    update = (sa.update(t).where(key == sa.bindparam("_key"), value == sa.bindparam("_old"))
              .values({col.column: sa.bindparam("_new")}))
    changed, last = 0, None
    while True:
        current = like_pattern(keyring.current)
        transaction = bind.begin() if isinstance(bind, Engine) else nullcontext(bind)
        with transaction as connection:
            stmt = (sa.select(key, value).where(value.is_not(None), value.not_like(current))
                    .order_by(key).limit(batch))
            if last is not None:
                stmt = stmt.where(key > last)
            rows = connection.execute(stmt).all()
            if not rows:
                return changed
            last = rows[-1][0]
            params = []
            for row_key, old in rows:
                if old.startswith(current[:-1]):
                    continue
                if is_sealed(old):
                    new = keyring.reseal(old)
                elif seal_plaintext:
                    new = keyring.seal(old)
                else:
                    raise SealError(f"{col.label} id {row_key} holds a value that is not sealed")
                params.append({"_key": row_key, "_old": old, "_new": new})
            if params:
                connection.execute(update, params)
                changed += len(params)
        if progress is not None:
            progress(len(rows))


def reseal_all(engine: Engine, keyring: Keyring, columns: list[SealedColumn], evidence_root: Path | None, *,
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Re-seal every sealed column and evidence file under the current key."""
    done: dict[str, int] = {}
    for col in columns:
        def advance(n: int, label: str = col.label) -> None:
            if progress is not None:
                progress(label, n)

        done[col.label] = reseal_column(engine, keyring, col, progress=advance)
    files = 0
    if evidence_root is not None:
        for path in evidence_files(evidence_root):
            if is_sealed_file(path) and reseal_file(path, keyring):
                files += 1
            if progress:
                progress("evidence", 1)
    done["evidence files"] = files
    return done


def count_rows(engine: Engine, columns: list[SealedColumn]) -> dict[str, int]:
    """Rows per sealed column (for the progress bars)."""
    out = {}
    with engine.connect() as connection:
        for col in columns:
            t = col.raw()
            out[col.label] = connection.scalar(sa.select(sa.func.count()).select_from(t)
                                               .where(t.c[col.column].is_not(None))) or 0
    return out
