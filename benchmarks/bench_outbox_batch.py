"""The outbox's pain.001 batching, measured at the bank's door: N payments handed to the sandbox bank
(in-process, its own SQLite database: the same XML path as over HTTP) one message each, then the same
number in messages of ``--batch`` payments. The floor is what the bank cannot skip in either case:
the schema-validated parse of the same bytes (``parse_pain001``), measured in the same run.

    python benchmarks/bench_outbox_batch.py --payments 2000 --batch 500
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from huzhu.banking.sync import batch_message
from huzhu.clock import FixedClock
from huzhu.custody.iso20022 import PaymentInstruction, build_pain001, parse_pain001
from huzhu.custody.local_bank import LocalBankConnector
from huzhu.demo import at
from huzhu_bank.runtime import start_bank
from huzhu_bank.service import BankSettings

DEBTOR = "HUZHU-CUSTODY-0001"


def singles(prefix: str, count: int) -> list[str]:
    now = at("2016-03-01")
    out = []
    for n in range(count):
        payment = PaymentInstruction(end_to_end_id=f"{prefix}{n:08d}", amount_fen=900 + n % 50,
                                     creditor_name="会员", creditor_account=f"62220202{n:011d}",
                                     remittance_info=f"huzhu wind-down refund, member {n}",
                                     requested_date=date(2016, 3, 1))
        out.append(build_pain001(message_id=payment.end_to_end_id, created_at=now,
                                 debtor_name="huzhu mutual-aid custody account", debtor_iban_or_account=DEBTOR,
                                 payments=[payment]).decode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    clock = FixedClock(at("2016-03-01"))
    with tempfile.TemporaryDirectory() as tmp:
        runtime = start_bank(BankSettings(database_url=f"sqlite:///{Path(tmp) / 'bank.sqlite'}",
                                          key_path=Path(tmp) / "key.pem", sandbox=True), clock=clock)
        bank = LocalBankConnector(runtime)
        one_each = [m.encode() for m in singles("SGL", args.payments)]
        rows = [(m, clock.now()) for m in singles("BAT", args.payments)]
        batched = [batch_message(rows[i:i + args.batch]) for i in range(0, len(rows), args.batch)]

        started = time.perf_counter()
        for xml in one_each:
            bank.send_payments(xml)
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        for xml in batched:
            bank.send_payments(xml)
        batch_s = time.perf_counter() - started
        started = time.perf_counter()
        for xml in batched:
            parse_pain001(xml)
        floor_s = time.perf_counter() - started
        runtime.engine.dispose()
    load = os.getloadavg()[0]
    print(f"{args.payments} payments, load {load:.2f}: one message each {single_s:.2f} s; "
          f"{len(batched)} messages of {args.batch} {batch_s:.2f} s; floor (parse of the batched bytes) "
          f"{floor_s:.2f} s; ratio batched/floor {batch_s / floor_s:.1f}")


if __name__ == "__main__":
    main()
