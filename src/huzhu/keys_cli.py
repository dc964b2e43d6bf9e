"""``huzhu keys``: the sealing keyring (status, rotate, reseal, retire), with the server running.

Rotation procedure (docs/backup-and-sealing.md): ``keys rotate`` adds a key and makes it current
(running servers pick it up from the keyring file within two seconds); ``keys reseal`` moves every
sealed value and evidence file to it in batches while the servers keep reading both; ``keys retire``
drops the old key, and refuses while anything still needs it.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import TaskID
from rich.table import Table

keys_app = typer.Typer(help="The keys that seal personal data at rest.", no_args_is_help=True)


class helpers:  # noqa: N801
    """The command line's shared helpers (console, _platform, _fail, _progress), handed over by
    ``huzhu.cli`` when it registers these commands (so this module never imports it)."""

    cli: Any = None


def _context():  # noqa: ANN202
    cli = helpers.cli
    from huzhu.models import Base
    from huzhu.sealing.keyring import keyring_for_dialect
    from huzhu.sealing.reseal import sealed_columns

    platform = cli._platform()
    return cli, platform, keyring_for_dialect(platform.engine.dialect), sealed_columns(Base.metadata)


def _usage(platform, keyring, columns) -> dict[str, int]:  # noqa: ANN001
    from huzhu.sealing.reseal import usage

    with platform.engine.connect() as connection:
        return usage(connection, keyring, columns, platform.settings.data_dir / "evidence")


@keys_app.command("status")
def keys_status() -> None:
    """Each key of the keyring and how many stored values and evidence files it seals."""
    cli, platform, keyring, columns = _context()
    counts = _usage(platform, keyring, columns)
    table = Table("key", "current", "fingerprint", "values and files sealed")
    for kid in sorted({*keyring.key_ids, *counts} - {"plaintext"}):
        known = kid in keyring.key_ids
        table.add_row(kid, "yes" if kid == keyring.current else "", keyring.fingerprint(kid) if known else "MISSING",
                      str(counts.get(kid, 0)))
    cli.console.print(table)
    if counts.get("plaintext"):
        cli.err.print(f"[red]{counts['plaintext']} values or files are not sealed[/red]")
        raise typer.Exit(1)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new random key to the keyring file and make it current (then run `huzhu keys reseal`)."""
    from huzhu.sealing.keyring import SealError, rotate

    cli, _, keyring, _ = _context()
    old = keyring.current
    try:
        kid = rotate(keyring)
    except SealError as exc:
        cli._fail(str(exc))
    cli.console.print(f"{kid} is now the current key (was {old}); keyring file {keyring.file}. Running servers "
                      "seal with it within two seconds; now run `huzhu keys reseal`.")


@keys_app.command("reseal")
def keys_reseal(batch: int = typer.Option(2000, min=1, max=100_000, help="rows per transaction")) -> None:
    """Re-seal every sealed value and evidence file under the current key, in batches, while the
    server runs."""
    from huzhu.sealing.files import is_sealed_file, reseal_file
    from huzhu.sealing.reseal import count_rows, evidence_files, reseal_column

    cli, platform, keyring, columns = _context()
    totals = count_rows(platform.engine, columns)
    evidence_root = platform.settings.data_dir / "evidence"
    changed = 0
    with cli._progress() as progress:
        for col in columns:
            task = progress.add_task(f"re-sealing {col.label}", total=totals[col.label])
            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)

            changed += reseal_column(platform.engine, keyring, col, batch=batch, progress=advance)
            progress.update(task, completed=totals[col.label])
        files = list(evidence_files(evidence_root))
        task = progress.add_task("re-sealing evidence files", total=len(files))
        for path in files:
            if is_sealed_file(path) and reseal_file(path, keyring):
                changed += 1
            progress.advance(task)
    left = {k: n for k, n in _usage(platform, keyring, columns).items() if k != keyring.current}
    cli.console.print(f"re-sealed {changed} values and files under {keyring.current}")
    if left:
        cli.console.print("still under other keys (written meanwhile by a server that had not yet seen the new "
                          f"key; run again): {left}")


@keys_app.command("retire")
def keys_retire(key_id: str) -> None:
    """Drop a key from the keyring; refused while it is current or anything is still sealed under it."""
    from huzhu.sealing.keyring import SealError, retire

    cli, platform, keyring, columns = _context()
    in_use = _usage(platform, keyring, columns).get(key_id, 0)
    if in_use:
        cli._fail(f"{key_id} still seals {in_use} values or files: run `huzhu keys reseal` first")
    try:
        retire(keyring, key_id)
    except SealError as exc:
        cli._fail(str(exc))
    cli.console.print(f"{key_id} retired: it opens nothing here any more (keep a copy with old backups that need it)")
