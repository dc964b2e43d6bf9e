"""The ledger's one definition of a transfer's content hash, which decides replay or conflict for
``post_transfer`` and bulk transfers alike: stored hashes must keep matching their replays."""

from __future__ import annotations

from huzhu.ledger.models import CREDIT, DEBIT
from huzhu.ledger.service import Leg, content_hash

DEPOSIT_REFS = {"member_id": 5, "case_id": None, "run_id": None}


def test_transfers_hash_as_they_always_did() -> None:
    # Digests written by the ledger before bulk transfers existed: a replay of those transfers
    # must still be recognised as the same content.
    assert content_hash("deposit", [Leg(7, CREDIT, 900), Leg(3, DEBIT, 900)], pending=False,
                        refs=DEPOSIT_REFS) == "94ae2ec0fa9c8cf7d6ccffa4e874a6279a9bc4b069b93e95595d687500335d72"
    assert content_hash("payout", [Leg(11, DEBIT, 30000), Leg(3, CREDIT, 30000)], pending=True,
                        refs={"member_id": None, "case_id": 2, "run_id": 1}) == (
        "a6c11bba5e2ff72a8a83d4c69a757918e378de6499fcd1f4c73a39293caef68a")


def test_the_hash_covers_every_part_of_the_content() -> None:
    legs = [Leg(7, CREDIT, 900), Leg(3, DEBIT, 900)]
    base = content_hash("deposit", legs, pending=False, refs=DEPOSIT_REFS)
    assert content_hash("deposit", list(reversed(legs)), pending=False, refs=DEPOSIT_REFS) == base  # leg order
    variants = [
        content_hash("refund", legs, pending=False, refs=DEPOSIT_REFS),
        content_hash("deposit", [Leg(7, CREDIT, 901), Leg(3, DEBIT, 901)], pending=False, refs=DEPOSIT_REFS),
        content_hash("deposit", legs, pending=True, refs=DEPOSIT_REFS),
        content_hash("deposit", legs, pending=False, refs={**DEPOSIT_REFS, "member_id": 6}),
        content_hash("deposit", legs, pending=False, refs=DEPOSIT_REFS, basis={}),
    ]
    assert len({base, *variants}) == 1 + len(variants)
    shares = content_hash("share", (), pending=False, refs=DEPOSIT_REFS, basis={"entries": 3, "amount": 600})
    assert shares == content_hash("share", (), pending=False, refs=DEPOSIT_REFS, basis={"amount": 600, "entries": 3})
    assert shares != content_hash("share", (), pending=False, refs=DEPOSIT_REFS, basis={"entries": 3, "amount": 601})
