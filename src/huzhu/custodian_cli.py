"""``huzhu custodian …``: the custodian bank as its own service (see docs/custodian.md).

- ``certs DIR``: a local CA, the bank's server certificate and the platform's client certificate;
- ``serve``: the sandbox bank as a separate process with its own database, over mutual TLS;
- ``sync``: one exchange with the configured bank (virtual accounts, the pain.001 outbox, camt.054 and
  pain.002 notifications, camt.053 statements with their reconciliation and attestation);
- ``close-day`` (sandbox): end the bank's business day (it writes the camt.053 and signs it);
- ``exceptions``: the exceptions queue.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

custodian_app = typer.Typer(help="The custodian bank: certificates, the bank server, sync, exceptions.",
                            no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@custodian_app.command("certs")
def certs(directory: Path = typer.Argument(..., help="where to write ca/server/client .pem and .key"),
          days: int = typer.Option(397, min=1, help="validity in days")) -> None:
    """Create a local CA, the bank's server certificate and the platform's client certificate."""
    from huzhu.clock import SystemClock
    from huzhu_bank.certs import make_certs

    paths = make_certs(directory, now=SystemClock().now(), days=days)
    console.print(f"wrote ca, server and client certificates and keys to {paths.directory}")


@custodian_app.command("serve")
def serve(
    certs_dir: Path = typer.Option(..., "--certs", help="the directory `huzhu custodian certs` wrote"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8443),
    db: str = typer.Option(os.environ.get("HUZHU_BANK_DATABASE_URL", "sqlite:///data/bank.sqlite"),
                           help="the bank's own database (default sqlite:///data/bank.sqlite)"),
    key: Path = typer.Option(Path("data/bank-signing-ed25519.pem"), help="the bank's Ed25519 signing key"),
    key_name: str = typer.Option("custodian.huzhu.example"),
    account: str = typer.Option("HUZHU-CUSTODY-0001", help="the pool (custody) account number"),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="without the /v1/sandbox endpoints"),
) -> None:
    """Serve the sandbox custodian bank over mutual TLS (its own process and database)."""
    from huzhu_bank.server import serve as serve_bank
    from huzhu_bank.service import BankSettings

    settings = BankSettings(database_url=db, account_number=account, key_path=key, key_name=key_name,
                            sandbox=not no_sandbox)
    console.print(f"custodian bank on https://{host}:{port} (mutual TLS), books in {db}")
    serve_bank(settings, host=host, port=port, certs=certs_dir)


def _platform_with_bank():  # noqa: ANN202
    from pydantic import ValidationError

    from huzhu.app import build_platform
    from huzhu.config import get_settings

    try:
        platform = build_platform(get_settings())
    except (ValidationError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if platform.bank is None:
        err.print("[red]error:[/red] no custodian bank is configured: set HUZHU_CUSTODY_BANK "
                  "(local in the sandbox, or the bank's https:// URL with HUZHU_CUSTODY_BANK_CERTS)")
        raise typer.Exit(2)
    return platform


def run_sync(platform) -> bool:  # noqa: ANN001
    """One exchange with the bank, printed; False when the bank did not answer."""
    from huzhu.banking.sync import open_exceptions, sync

    report = sync(platform.factory, platform.bank.connector, now=platform.clock.now(), plans=platform.plans)
    with platform.factory() as session:
        waiting = open_exceptions(session)
    console.print(f"custodian sync: {report.references_opened} virtual accounts opened, {report.sent} payments sent, "
                  f"{report.notifications} notifications read ({report.deposits_booked} deposits booked), "
                  f"statements {report.statements or 'none'}; {waiting} exceptions waiting for staff")
    if report.error:
        err.print(f"[yellow]the bank did not answer; what is queued stays queued:[/yellow] {report.error}")
    return not report.error


@custodian_app.command("sync")
def sync_command() -> None:
    """Exchange messages with the bank once (exit 1 when it does not answer)."""
    if not run_sync(_platform_with_bank()):
        raise typer.Exit(1)


@custodian_app.command("close-day")
def close_day() -> None:
    """Sandbox: end the bank's business day (camt.053 written and signed), then sync."""
    platform = _platform_with_bank()
    if platform.bank.sandbox is None:
        err.print("[red]error:[/red] only the sandbox bank closes its day on request")
        raise typer.Exit(2)
    closed = platform.bank.sandbox.close_day()
    console.print(f"bank closed {closed.business_date}: statement {closed.statement_seq}, closing "
                  f"{closed.closing_balance}, sha256 {closed.sha256}")
    run_sync(platform)


@custodian_app.command("exceptions")
def exceptions(all_: bool = typer.Option(False, "--all", help="resolved ones too")) -> None:
    """The custody exceptions queue."""
    from huzhu.banking.exceptions import list_exceptions
    from huzhu.money import format_yuan

    platform = _platform_with_bank()
    table = Table("id", "kind", "subject", "amount", "status", "proposal", "raised")
    with platform.factory() as session:
        for row in list_exceptions(session, status=None if all_ else "unresolved"):
            table.add_row(str(row.id), row.kind, row.subject, format_yuan(row.amount_fen), row.status,
                          f"{row.resolution or ''} {row.resolution_target or ''}".strip(), row.raised_at.isoformat())
    console.print(table)


def wind_down(
    plan: str = typer.Argument(None, help="the plan to wind down (or --all)"),
    all_plans: bool = typer.Option(False, "--all", help="wind down every plan"),
    claims_days: int = typer.Option(30, "--claims-days", min=0, max=3650,
                                    help="how long the claims window stays open (published)"),
    batch_size: int = typer.Option(500, "--batch-size", min=1, max=5000,
                                   help="refunds per pain.001 message (each keeps its own end-to-end id)"),
) -> None:
    """Wind a plan down: no new joins, the claims window, open cases settled, every balance refunded
    through the bank, the final statement published. Run it again (daily) to do what is due next."""
    from huzhu.banking.winddown import ALL, advance
    from huzhu.errors import DomainError

    if bool(plan) == all_plans:
        err.print("[red]error:[/red] name one plan, or --all")
        raise typer.Exit(2)
    platform = _platform_with_bank()
    try:
        report = advance(platform.factory, scope=ALL if all_plans else plan, claims_days=claims_days,
                         plans=platform.plans, custodian=platform.custodian, connector=platform.bank.connector,
                         now=platform.clock.now(), batch=batch_size)
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"wind-down of {report.scope}: {report.state}; claims window until {report.claims_close_on}; "
                  f"{report.refunds} refunds instructed this run"
                  + (f"; waiting for {report.waiting_for}" if report.waiting_for else ""))
