"""The ``huzhu`` command line: set-up, staff accounts, imports, the job, checks, exports, demo."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from huzhu.errors import DomainError
from huzhu.log_cli import ask_log_witnesses
from huzhu.log_cli import register as register_log_commands

app = typer.Typer(help="huzhu (互助): a transparent, zero-profit mutual-aid platform.", no_args_is_help=True)
users_app = typer.Typer(help="Staff and member accounts.", no_args_is_help=True)
members_app = typer.Typer(help="Members.", no_args_is_help=True)
jobs_app = typer.Typer(help="Scheduled work.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger.", no_args_is_help=True)
clock_app = typer.Typer(help="The sandbox clock.", no_args_is_help=True)
plans_app = typer.Typer(help="Plan files.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Housekeeping.", no_args_is_help=True)
for sub, name in ((users_app, "users"), (members_app, "members"), (jobs_app, "jobs"), (ledger_app, "ledger"),
                  (clock_app, "clock"), (plans_app, "plans"), (db_app, "db"), (maintenance_app, "maintenance")):
    app.add_typer(sub, name=name)

from huzhu.custodian_cli import custodian_app, wind_down  # noqa: E402  (huzhu custodian …, huzhu wind-down)

app.add_typer(custodian_app, name="custodian")
app.command("wind-down")(wind_down)

# Wide enough for the demo's tables when the output is not a terminal (CI logs, pipes).
console = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)


def _settings():  # noqa: ANN202
    """The settings, or the reasons they were refused (never the values: they may be secrets)."""
    from pydantic import ValidationError

    from huzhu.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for problem in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in problem["loc"])
            err.print(f"[red]error:[/red] {where + ': ' if where else ''}{problem['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None


def _platform():  # noqa: ANN202
    from huzhu.app import build_platform

    settings = _settings()
    try:
        return build_platform(settings)
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _parse_now(value: str | None, platform) -> datetime:  # noqa: ANN001
    if value is None:
        return platform.clock.now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        err.print("[red]error:[/red] --now must be an ISO 8601 time, e.g. 2016-02-17T10:00:00+08:00")
        raise typer.Exit(2) from exc
    if moment.tzinfo is None:
        err.print("[red]error:[/red] --now needs a timezone offset, e.g. +08:00")
        raise typer.Exit(2)
    return moment


def _fail(problem: DomainError | str) -> None:
    err.print(f"[red]error:[/red] {problem.message if isinstance(problem, DomainError) else problem}")
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    platform = _platform()
    console.print(f"database ready: {platform.engine.url.render_as_string(hide_password=True)}")


@db_app.command("rekey-id-numbers")
def db_rekey_id_numbers() -> None:
    """Reseal every resident ID number under a new key (from HUZHU_NEW_ID_NUMBER_KEY), all or nothing.

    Stop the server first. Afterwards set HUZHU_ID_NUMBER_KEY to the new key; the old one opens
    nothing any more.
    """
    import os

    from sqlalchemy import func, select

    from huzhu.members.models import Member
    from huzhu.members.service import rekey_members

    new_key = os.environ.get("HUZHU_NEW_ID_NUMBER_KEY", "")
    if not new_key:
        _fail("set HUZHU_NEW_ID_NUMBER_KEY to the new key (never on the command line: it would "
              "stay in the shell's history)")
    platform = _platform()
    if new_key == platform.settings.id_number_key.get_secret_value():
        _fail("the new key is the current key")
    if platform.settings.seal_key is None:  # sealed personal data and phone digests hang on the old key
        _fail("set HUZHU_SEAL_KEY to the current HUZHU_ID_NUMBER_KEY first (and keep it set afterwards): "
              "the sealed personal data and the phone digests are keyed from it (docs/backup-and-sealing.md)")
    with platform.factory() as session:
        total = session.scalar(select(func.count()).select_from(Member)) or 0
    try:
        with _progress() as progress, platform.session() as session:
            task = progress.add_task("resealing ID numbers", total=total)
            done = rekey_members(session, new_key, progress=lambda n: progress.advance(task, n))
    except DomainError as exc:
        _fail(exc)
    console.print(f"resealed {done} ID numbers; now set HUZHU_ID_NUMBER_KEY to the new key and start the server")


@plans_app.command("list")
def plans_list() -> None:
    """Show the plans and their rules."""
    from huzhu.money import format_yuan

    platform = _platform()
    table = Table("code", "name", "ages", "deposit", "minimum", "cap/case", "notice", "benefits")
    for plan in platform.plans.values():
        e = plan.eligibility
        ages = f"{e.min_age_years}y{e.min_age_days}d–{e.max_age_years}y"
        table.add_row(plan.code, plan.name_zh, ages, format_yuan(plan.deposit_fen), format_yuan(plan.min_balance_fen),
                      format_yuan(plan.cap_per_case_fen), f"{plan.notice_days} d",
                      ", ".join(b.code for b in plan.benefits))
    console.print(table)


@plans_app.command("check")
def plans_check(directory: Path) -> None:
    """Validate a folder of plan files."""
    from huzhu.plans.loader import load_plans

    try:
        plans = load_plans(directory)
    except DomainError as exc:
        _fail(exc)
    console.print(f"{len(plans)} plan(s) valid: {', '.join(plans)}")


@users_app.command("create")
def users_create(
    role: str = typer.Option(..., help="member, investigator, reviewer, admin or auditor"),
    login: str = typer.Option(..., help="mobile number or e-mail"),
    name: str = typer.Option(..., help="display name"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin",
        help="read the password from the first line of standard input (scripts); otherwise it is asked for, "
             "hidden, twice. Never on the command line: it would stay in the shell's history and the process list"),
) -> None:
    """Create an account (staff accounts are only created here)."""
    from huzhu.accounts.service import register_account

    password = _read_password(from_stdin=password_stdin)
    platform = _platform()
    try:
        with platform.session() as session:
            account = register_account(session, login=login, password=password, display_name=name, role=role,
                                       now=platform.clock.now())
    except DomainError as exc:
        _fail(exc)
    console.print(f"created {role} account {account.id} ({login})")


def _read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("--password-stdin: standard input held no password")
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@members_app.command("import")
def members_import(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Import an existing pool from CSV (name,id_number,plans,joined_on,balance)."""
    from huzhu.members.importer import import_members
    from huzhu.money import format_yuan

    platform = _platform()
    with file.open("rb") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)
    try:
        with _progress() as progress, platform.session() as session:
            task = progress.add_task("importing members", total=total)
            result = import_members(session, path=file, plans=platform.plans, now=platform.clock.now(),
                                    progress=lambda n: progress.advance(task, n))
    except DomainError as exc:
        _fail(exc)
    console.print(f"imported {result.members} members, {result.enrollments} enrollments "
                  f"({result.suspended} suspended), balances {format_yuan(result.total_balance_fen)}")


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err)


@jobs_app.command("run")
def jobs_run(
    now: str = typer.Option(None, help="run as of this time (ISO 8601 with offset); default: the clock"),
    every: float = typer.Option(0, min=0, help="keep running every this many seconds (a scheduler); 0: once"),
) -> None:
    """Move every due case forward: notice ended → shared → paid; then publish proofs and reconcile."""
    from huzhu.custody.service import refuse_without_bank
    from huzhu.jobs import run_jobs

    platform = _platform()
    if every and now:
        _fail("--every runs on the clock; it cannot be combined with --now")
    try:
        refuse_without_bank(platform.custodian)  # production without HUZHU_CUSTODY_BANK
    except DomainError as exc:
        _fail(exc)
    while True:
        moment = _parse_now(now, platform)
        if platform.bank is not None:
            from huzhu.custodian_cli import run_sync

            run_sync(platform)  # what the bank said since the last run (payments booked, deposits)
        with _progress() as progress:
            task = progress.add_task("jobs", total=None)

            def show(message: str, task: TaskID = task) -> None:
                progress.update(task, description=message)

            report = run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=moment,
                              progress=show)
        matched = report.reconciliation_matched
        console.print(f"as of {moment.isoformat()}: run {report.run_no or '—'}; shared {report.cases_shared or 'none'}; "
                      f"paid {report.cases_paid or 'none'}; reconciliation "
                      f"{'matched' if matched else 'n/a' if matched is None else 'MISMATCH'}; liabilities tree "
                      f"{report.liabilities_published or 'already published today'}")
        for refusal in ask_log_witnesses(platform):  # the new checkpoint to the witnesses (docs/public-log.md)
            err.print(f"[red]witness refused[/red] {refusal}")
        if platform.bank is not None:
            run_sync(platform)  # the payments this run instructed go out
        if not every:
            return
        try:
            time.sleep(every)
        except KeyboardInterrupt:
            return


@jobs_app.command("run-bundle")
def jobs_run_bundle(run_no: str = typer.Argument(..., help="the run, e.g. R000002"),
                    out: Path = typer.Option(..., "--out", help="directory to write the bundle to")) -> None:
    """Export a run's public data as a static bundle (checked offline by `huzhu-verify run R --bundle DIR`)."""
    from huzhu.apportionment.bundle import export_run_bundle

    platform = _platform()
    with platform.factory() as session:
        manifest = export_run_bundle(session, run_no, out)
    console.print(f"run {run_no}: {len(manifest['files'])} run file(s), {len(manifest['records'])} log records → {out}")


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify every ledger invariant; exits 1 naming each broken one."""
    from huzhu.ledger.invariants import check_ledger
    from huzhu.transparency.service import verify_chain

    platform = _platform()
    with platform.factory() as session:
        violations = check_ledger(session)
        chain = verify_chain(session)
    for v in violations:
        err.print(f"[red]BROKEN[/red] {v.invariant}: {v.message}")
    for problem in chain:
        err.print(f"[red]BROKEN[/red] public_record_chain: {problem}")
    if violations or chain:
        raise typer.Exit(1)
    console.print("ledger check passed: debits = credits; totals match entries; no negative balance; "
                  "custody = member balances + case pools; payouts = collected shares; each member pays a case once; "
                  "books = custodian; public log matches every signed checkpoint")


@maintenance_app.command("purge")
def maintenance_purge(
    every: float = typer.Option(0, min=0, help="keep purging every this many seconds (a scheduler); 0: once"),
) -> None:
    """Delete what is kept only for a while: stored Idempotency-Key responses older than
    HUZHU_IDEMPOTENCY_RETENTION_DAYS, sessions ended or expired 30 days ago, and login counters and
    used login challenges that have aged out."""
    from datetime import timedelta as _days

    from huzhu.accounts.service import purge_login_records
    from huzhu.accounts.sessions import purge_sessions
    from huzhu.http.idempotency import purge_idempotency_records

    platform = _platform()
    retention = _days(days=platform.settings.idempotency_retention_days)
    while True:
        with platform.session() as session:
            # Stored responses are dated by the business clock that dated the requests; sessions
            # and login records by the wall clock.
            responses = purge_idempotency_records(session, now=platform.clock.now_in(session), retention=retention)
            wall = platform.wall_clock.now()
            sessions = purge_sessions(session, now=wall)
            logins = purge_login_records(session, now=wall)
        console.print(f"purged {responses} stored idempotent responses (older than {retention.days} days), "
                      f"{sessions} ended sessions, {logins} login records")
        if not every:
            return
        try:
            time.sleep(every)
        except KeyboardInterrupt:
            return


@app.command("export")
def export_cmd(
    dataset: str = typer.Argument(..., help="cases, runs or records"),
    fmt: str = typer.Option("csv", "--format", help="csv or json"),
    out: Path = typer.Option(None, help="file to write; default standard output"),
) -> None:
    """Export public open data (anonymised) as CSV or JSON."""
    from huzhu.exports import export, log_headers

    platform = _platform()
    try:
        with platform.factory() as session:
            log_size = log_headers(session)[0] if dataset == "records" else None
            data = export(session, dataset, fmt, log_size=log_size)
    except DomainError as exc:
        _fail(exc)
    if out:
        out.write_text(data, encoding="utf-8")
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(data)


@clock_app.command("show")
def clock_show() -> None:
    platform = _platform()
    console.print(platform.clock.now().isoformat())


@clock_app.command("set")
def clock_set(moment: str) -> None:
    """Set the sandbox clock (forward only)."""
    platform = _platform()
    if not platform.settings.sandbox:
        _fail("the clock can only be set in sandbox mode")
    try:
        console.print(platform.clock.set(_parse_now(moment, platform)).isoformat())
    except DomainError as exc:
        _fail(exc)


@clock_app.command("advance")
def clock_advance(days: float = typer.Option(0, min=0), hours: float = typer.Option(0, min=0)) -> None:
    """Advance the sandbox clock."""
    platform = _platform()
    if not platform.settings.sandbox:
        _fail("the clock can only be moved in sandbox mode")
    try:
        console.print(platform.clock.advance(timedelta(days=days, hours=hours)).isoformat())
    except DomainError as exc:
        _fail(exc)


@app.command("demo")
def demo_cmd(
    members: int = typer.Option(50_000, min=100, max=5_000_000, help="size of the background pool"),
    reset: bool = typer.Option(False, help="start from an empty database (SQLite file deleted, PostgreSQL "
                                           "database dropped and created again)"),
) -> None:
    """Replay the source article on a realistic pool and print what the public would see."""
    from huzhu.demo import run_demo

    settings = _settings()
    if not settings.sandbox:
        _fail("the demo only runs in sandbox mode: set HUZHU_MODE=sandbox")
    if reset:
        from huzhu.db import reset_database

        reset_database(settings.database_url)
    try:
        run_demo(settings, members=members, console=console)
    except DomainError as exc:
        _fail(exc)


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1),
    allow_remote_sandbox: bool = typer.Option(
        False, "--allow-remote-sandbox",
        help="in sandbox mode, listen on an address other machines can reach (the sandbox has a settable "
             "clock and demo accounts: loopback only unless this is given)"),
) -> None:
    """Serve the web pages and the HTTP API with uvicorn."""
    import uvicorn

    from huzhu.app import server_options

    settings = _settings()
    if settings.sandbox and host not in LOOPBACK_HOSTS and not allow_remote_sandbox:
        _fail(f"the sandbox serves on loopback only (127.0.0.1); --host {host} needs --allow-remote-sandbox")
    if not settings.sandbox and not settings.custody_bank.strip():
        err.print("[yellow]warning:[/yellow] no custodian bank is configured: deposits, payouts, refunds and the "
                  "jobs are refused in production until HUZHU_CUSTODY_BANK is set to the bank's https:// URL "
                  "(with HUZHU_CUSTODY_BANK_CERTS; docs/custodian.md)")
    uvicorn.run("huzhu.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                **server_options())


register_log_commands(app, _platform)

from huzhu.backup_cli import register as _register_keys_and_backups  # noqa: E402

_register_keys_and_backups(app, sys.modules[__name__])

if __name__ == "__main__":
    app()
