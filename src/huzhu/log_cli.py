"""``huzhu log …``, ``huzhu publish`` and ``huzhu witness …``: the signed public log's commands
(docs/public-log.md). Registered on the main command line by :func:`register`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

log_app = typer.Typer(help="The signed public log.", no_args_is_help=True)
witness_app = typer.Typer(help="A witness of a public log (C2SP tlog-witness), run as its own process.",
                          no_args_is_help=True)
console = Console()
err = Console(stderr=True)


_make_platform: list[Callable[[], Any]] = []  # the main command line's platform builder (see register)


def _platform():  # noqa: ANN202
    return _make_platform[0]()


def _signer(platform):  # noqa: ANN001, ANN202
    from huzhu.transparency.log import SIGNER_INFO_KEY

    with platform.factory() as session:
        return session.info[SIGNER_INFO_KEY]


@log_app.command("key")
def log_key() -> None:
    """Print the log's verifier key (public), as /.well-known/huzhu-log-key serves it."""
    console.print(_signer(_platform()).verifier.vkey, soft_wrap=True, highlight=False)


def ask_log_witnesses(platform) -> list[str]:  # noqa: ANN001
    """Send the newest checkpoint to HUZHU_LOG_WITNESSES now (after any round under way); returns the
    refusals."""
    from huzhu.transparency.log import WITNESS_ROUNDS_INFO_KEY

    with platform.factory() as session:
        rounds = session.info.get(WITNESS_ROUNDS_INFO_KEY)
    if rounds is None:
        return []
    rounds.wait()
    return rounds.run()


@log_app.command("checkpoint")
def log_checkpoint(
    witnesses: bool = typer.Option(True, "--witnesses/--no-witnesses",
                                   help="ask the witnesses of HUZHU_LOG_WITNESSES to cosign the latest checkpoint"),
) -> None:
    """Sign a checkpoint over any records not yet in one, then collect witness cosignatures."""
    from huzhu.db import unit_of_work
    from huzhu.transparency.log import current_view, sign_checkpoint

    platform = _platform()
    signer = _signer(platform)
    with unit_of_work(platform.factory) as session:
        sign_checkpoint(session, signer, now=platform.clock.now())
    failures = ask_log_witnesses(platform) if witnesses else []
    with platform.read_factory() as session:
        view = current_view(session)
    console.print(view.checkpoint if view else "no checkpoint", soft_wrap=True, highlight=False)
    for failure in failures:
        err.print(f"[red]witness refused[/red] {failure}")
    if failures:
        raise typer.Exit(1)


def publish(directory: Path = typer.Argument(..., help="the directory a web server or CDN serves")) -> None:
    """Write the log as tlog-tiles static files (tiles, entry bundles, checkpoint, key); incremental."""
    from huzhu.errors import DomainError
    from huzhu.transparency.publish import publish_tiles
    from huzhu_verify.errors import VerificationError

    platform = _platform()
    signer = _signer(platform)
    try:
        with platform.read_factory() as session:
            done = publish_tiles(session, directory, signer)
    except (DomainError, VerificationError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"published {directory}: size {done.previous_size} → {done.tree_size}, root {done.root_hash}")


@witness_app.command("serve")
def witness_serve(
    key_file: Path = typer.Option(..., "--key", help="the witness's cosigner key file (made on first start)"),
    name: str = typer.Option("", help="the witness's name, for a new key (e.g. witness.example/w1)"),
    state: Path = typer.Option(..., help="the JSON file of the latest checkpoint cosigned per log"),
    log: list[str] = typer.Option(..., "--log", help="a log verifier key to follow (repeat for more logs)"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8090),
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness) until interrupted."""
    from huzhu.witness_server import load_or_make_cosigner, serve

    signer = load_or_make_cosigner(key_file, name)
    err.print(f"witness {signer.name} on http://{host}:{port}/ — key {signer.verifier.vkey}")
    serve(signer, log, state, host=host, port=port)


@witness_app.command("key")
def witness_key(
    key_file: Path = typer.Option(..., "--key", help="the witness's cosigner key file (made on first use)"),
    name: str = typer.Option("", help="the witness's name, for a new key"),
) -> None:
    """Print the witness's verifier key (what logs and verifier policies list)."""
    from huzhu.witness_server import load_or_make_cosigner

    console.print(load_or_make_cosigner(key_file, name).verifier.vkey, soft_wrap=True, highlight=False)


def register(app: typer.Typer, make_platform: Callable[[], Any]) -> None:
    _make_platform[:] = [make_platform]
    app.add_typer(log_app, name="log")
    app.add_typer(witness_app, name="witness")
    app.command("publish")(publish)
