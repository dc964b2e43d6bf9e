"""``huzhu backup DEST`` and ``huzhu restore SRC`` (huzhu/backup.py; docs/backup-and-sealing.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from huzhu.keys_cli import helpers, keys_app


def backup_command(dest: Path = typer.Argument(..., help="a new or empty directory")) -> None:
    """Back up the database (SQLite online backup, or pg_dump) and the evidence files, with a manifest."""
    cli = helpers.cli
    from huzhu.backup import BackupError, backup

    platform = cli._platform()
    try:
        manifest = backup(platform, dest)
    except BackupError as exc:
        cli._fail(str(exc))
    finally:
        platform.engine.dispose()
    head = manifest["log_head"]
    cli.console.print(f"backup written to {dest}: {len(manifest['parts'])} parts, revision "
                      f"{manifest['alembic_revision']}, keys needed {', '.join(manifest['key_ids']) or 'none'}, "
                      f"public log {head['tree_size']} records, root {head['root_hash'][:16]}…")


def restore_command(
    src: Path = typer.Argument(..., help="a directory written by `huzhu backup`"),
    force: bool = typer.Option(False, "--force", help="replace a database that is not empty"),
) -> None:
    """Restore a backup: refused if tampered, if the configured keys cannot open it, or into a
    non-empty database without --force; then verified like `huzhu ledger check` plus the log head."""
    cli = helpers.cli
    from huzhu.backup import BackupError, restore

    settings = cli._settings()
    try:
        report = restore(settings, src, force=force)
    except BackupError as exc:
        cli._fail(str(exc))
    for problem in report.problems:
        cli.err.print(f"[red]BROKEN[/red] {problem}")
    if report.problems:
        raise typer.Exit(1)
    head = report.manifest["log_head"]
    cli.console.print(f"restored from {src}; ledger check passed; public log head matches "
                      f"({head['tree_size']} records, root {head['root_hash'][:16]}…)")


def register(app: typer.Typer, cli) -> None:  # noqa: ANN001 (the huzhu.cli module)
    helpers.cli = cli
    app.add_typer(keys_app, name="keys")
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
