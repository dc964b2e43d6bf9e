"""``python -m huzhu_bank certs DIR`` and ``python -m huzhu_bank serve …`` (the sandbox custodian bank).

The platform's CLI wires the same two functions as ``huzhu custodian certs`` and
``huzhu custodian serve``: :func:`huzhu_bank.certs.make_certs` and :func:`huzhu_bank.server.serve`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from huzhu.clock import SystemClock
from huzhu_bank.certs import make_certs
from huzhu_bank.server import serve
from huzhu_bank.service import BankSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m huzhu_bank", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    certs = commands.add_parser("certs", help="create a local CA, the bank's server and the platform's client certificate")
    certs.add_argument("directory", type=Path)
    certs.add_argument("--days", type=int, default=397, help="validity in days (default 397)")
    run = commands.add_parser("serve", help="serve the bank over mutual TLS")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8443)
    run.add_argument("--db", default=os.environ.get("HUZHU_BANK_DATABASE_URL", "sqlite:///data/bank.sqlite"),
                     help="database URL (default sqlite:///data/bank.sqlite, or HUZHU_BANK_DATABASE_URL)")
    run.add_argument("--certs", type=Path, required=True, help="the directory `certs` wrote")
    run.add_argument("--key", type=Path, default=Path("data/bank-signing-ed25519.pem"),
                     help="the bank's Ed25519 signing key (created on first start)")
    run.add_argument("--key-name", default="custodian.huzhu.example")
    run.add_argument("--account", default="HUZHU-CUSTODY-0001", help="the pool (custody) account number")
    run.add_argument("--witness-log", action="append",
                     default=os.environ.get("HUZHU_BANK_WITNESS_LOGS", "").split(),
                     help="a public log's verifier key to witness (repeat; or HUZHU_BANK_WITNESS_LOGS)")
    run.add_argument("--no-sandbox", action="store_true", help="without the /v1/sandbox endpoints")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "certs":
        paths = make_certs(args.directory, now=SystemClock().now(), days=args.days)
        print(f"wrote ca, server and client certificates and keys to {paths.directory}")
        return 0
    settings = BankSettings(database_url=args.db, account_number=args.account, key_path=args.key,
                            key_name=args.key_name, sandbox=not args.no_sandbox,
                            witness_logs=tuple(args.witness_log))
    serve(settings, host=args.host, port=args.port, certs=args.certs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
