"""The daily liabilities tree: every member balance and every undisbursed case pool, summed and held
against the cash the custodian bank attests.

This module owns the liabilities tree's leaves and ordering, the member's balance check and the
comparison with the bank's cash. Standard library only. The tree is a ``liabilities`` Merkle-sum tree
(``sumtree``: leaves ≥ 0, root digest commits to kind, tree id, count, sum) with tree id
``liabilities-YYYY-MM-DD`` (the business date whose closing balances it holds).

Leaves (``pseudonyms`` has the byte formats), in strictly ascending pseudonym order:

* a **member balance**: ``leaf("balance", salt, pseudonym, balance)`` from the member's secret and the
  tree id; a new pseudonym every day, so neither the order nor the neighbours link across days;
* a **case pool** (collected and not yet paid out): ``leaf("pool", …)`` from the case's public pool
  secret (``pseudonyms.pool_secret``), so anyone can recompute a pool's leaf from its case number.

The root's sum is the platform's total liabilities; :func:`liabilities_match` reports its difference
from the bank's attested cash, whichever way it goes, and never rounds or hides it. Note what a sum
tree reveals: an inclusion proof shows the sums of the sibling subtrees, so the member next to you
in the day's order shows as one balance, without a name and under a pseudonym that changes daily.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from huzhu_verify.pseudonyms import TreeDerivation, parse_secret, pool_secret
from huzhu_verify.sumtree import (
    CheckResult,
    InclusionProof,
    MalformedInput,
    RootMismatch,
    SumRoot,
    SumTreeBuilder,
    VerificationError,
    VerifiedPath,
    describe_path,
    format_yuan,
    parse_yuan,
    require_fields,
    verify_inclusion,
    write_level_file,
)

__all__ = [
    "LiabilitiesBuilder",
    "LiabilitiesCheck",
    "LiabilityLeaf",
    "balance_leaf",
    "build_liabilities",
    "check_member_balance",
    "check_pool",
    "liabilities_match",
    "liabilities_tree_id",
    "pool_leaf",
    "verify_balance_document",
    "verify_pool_document",
]

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def liabilities_tree_id(day: date) -> str:
    """``liabilities-YYYY-MM-DD``: the tree id (and pseudonym scope) of one day's liabilities."""
    return f"liabilities-{day.isoformat()}"


@dataclass(frozen=True)
class LiabilityLeaf:
    kind: str  # "balance" or "pool"
    pseudonym: bytes
    leaf_hash: bytes
    amount: int


def balance_leaf(secret: bytes, day: date, amount: int) -> LiabilityLeaf:
    derived = TreeDerivation(liabilities_tree_id(day)).leaf("balance", secret, amount)
    return LiabilityLeaf("balance", derived.pseudonym, derived.leaf_hash, amount)


def pool_leaf(case_no: str, day: date, amount: int) -> LiabilityLeaf:
    derived = TreeDerivation(liabilities_tree_id(day)).leaf("pool", pool_secret(case_no), amount)
    return LiabilityLeaf("pool", derived.pseudonym, derived.leaf_hash, amount)


class LiabilitiesBuilder:
    """Streams leaves in strictly ascending pseudonym order into one day's liabilities tree."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.tree_id = liabilities_tree_id(day)
        self._tree = SumTreeBuilder("liabilities", self.tree_id)
        self._last: bytes | None = None
        self.balances = 0
        self.pools = 0

    def add(self, leaf: LiabilityLeaf) -> None:
        if self._last is not None and leaf.pseudonym <= self._last:
            what = "appears twice" if leaf.pseudonym == self._last else "is out of ascending order"
            raise MalformedInput(f"leaf {self._tree.count}: pseudonym {leaf.pseudonym.hex()[:16]}… {what}")
        self._last = leaf.pseudonym
        self._tree.add(leaf.leaf_hash, leaf.amount)
        if leaf.kind == "pool":
            self.pools += 1
        else:
            self.balances += 1

    def root(self) -> SumRoot:
        return self._tree.root()


def _ordered(leaves: Iterable[LiabilityLeaf]) -> Iterable[tuple[bytes, int]]:
    last: bytes | None = None
    for i, leaf in enumerate(leaves):
        if last is not None and leaf.pseudonym <= last:
            raise MalformedInput(f"leaf {i}: pseudonym {leaf.pseudonym.hex()[:16]}… is repeated or out of order")
        last = leaf.pseudonym
        yield leaf.leaf_hash, leaf.amount


def build_liabilities(day: date, leaves: Iterable[LiabilityLeaf], *, level_path: str | None = None,
                      count: int | None = None) -> SumRoot:
    """The day's root from leaves in ascending pseudonym order; with ``level_path`` (and the leaf
    ``count``) the tree is also stored for member proofs."""
    if level_path is not None:
        if count is None:
            raise MalformedInput("a level file needs the number of leaves in advance")
        return write_level_file(level_path, "liabilities", liabilities_tree_id(day), count, _ordered(leaves))
    builder = LiabilitiesBuilder(day)
    for leaf in leaves:
        builder.add(leaf)
    return builder.root()


@dataclass(frozen=True)
class LiabilitiesCheck:
    """The liabilities root's sum against the bank's attested cash, difference = cash − liabilities."""

    liabilities: int
    cash: int
    difference: int
    matches: bool
    message: str


def liabilities_match(root_sum: int, attested_cash: int) -> LiabilitiesCheck:
    """Compare the published liabilities with the cash the bank signed for; the difference is always
    reported with its sign and in full (a shortfall is never netted, rounded or hidden)."""
    for value, name in ((root_sum, "liabilities"), (attested_cash, "attested cash")):
        if type(value) is not int or value < 0:
            raise MalformedInput(f"{name} must be a whole number of fen ≥ 0, not {value!r}")
    difference = attested_cash - root_sum
    if difference == 0:
        message = f"liabilities {format_yuan(root_sum)} equal the cash the bank attests"
    elif difference > 0:
        message = (f"the bank holds {format_yuan(difference)} more than the liabilities {format_yuan(root_sum)}: "
                   "money credited to no member and no case")
    else:
        message = (f"the liabilities {format_yuan(root_sum)} exceed the bank's attested cash "
                   f"{format_yuan(attested_cash)} by {format_yuan(-difference)}: a shortfall at the bank")
    return LiabilitiesCheck(liabilities=root_sum, cash=attested_cash, difference=difference,
                            matches=difference == 0, message=message)


def check_member_balance(*, secret: bytes, day: date, amount: int, proof: InclusionProof,
                         root: SumRoot) -> VerifiedPath:
    """A member's check that their balance at the end of ``day`` is counted in that day's liabilities."""
    tree_id = liabilities_tree_id(day)
    if (root.kind, root.tree_id) != ("liabilities", tree_id):
        raise RootMismatch(f"the root is for the {root.kind} tree {root.tree_id}, not {tree_id}")
    leaf = balance_leaf(secret, day, amount)
    return verify_inclusion(leaf.leaf_hash, amount, proof, root)


def check_pool(*, case_no: str, day: date, amount: int, proof: InclusionProof, root: SumRoot) -> VerifiedPath:
    """Anyone's check that a case's undisbursed pool is counted in that day's liabilities."""
    tree_id = liabilities_tree_id(day)
    if (root.kind, root.tree_id) != ("liabilities", tree_id):
        raise RootMismatch(f"the root is for the {root.kind} tree {root.tree_id}, not {tree_id}")
    leaf = pool_leaf(case_no, day, amount)
    return verify_inclusion(leaf.leaf_hash, amount, proof, root)


def _day(text: object) -> date:
    if not isinstance(text, str) or _DAY.fullmatch(text) is None:
        raise MalformedInput(f"day {text!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MalformedInput(f"day {text!r} is not a calendar date") from None


def _document(doc: object, check: Callable[[object], tuple[VerifiedPath, int]]) -> CheckResult:
    try:
        data = json.loads(doc) if isinstance(doc, str) else doc
        verified, index = check(data)
    except VerificationError as exc:
        return CheckResult(ok=False, reason=exc.code, message=str(exc), steps=())
    except ValueError as exc:
        return CheckResult(ok=False, reason=MalformedInput.code, message=str(exc), steps=())
    return CheckResult(ok=True, reason=None, message="verified", steps=describe_path(verified, index))


def verify_balance_document(doc: object) -> CheckResult:
    """Same input and answer as ``sumproof.js``'s ``verifyBalance``: ``{day, secret, amount, proof, root}``."""

    def check(document: object) -> tuple[VerifiedPath, int]:
        data = require_fields(document, ("day", "secret", "amount", "proof", "root"), "the balance document")
        day = _day(data["day"])
        secret = parse_secret(data["secret"])
        amount = parse_yuan(data["amount"], what="amount")
        proof = InclusionProof.from_json(data["proof"])
        root = SumRoot.from_json(data["root"])
        return check_member_balance(secret=secret, day=day, amount=amount, proof=proof, root=root), proof.index

    return _document(doc, check)


def verify_pool_document(doc: object) -> CheckResult:
    """Same input and answer as ``sumproof.js``'s ``verifyPool``: ``{case_no, day, amount, proof, root}``."""

    def check(document: object) -> tuple[VerifiedPath, int]:
        data = require_fields(document, ("case_no", "day", "amount", "proof", "root"), "the pool document")
        day = _day(data["day"])
        pool_secret(data["case_no"])
        amount = parse_yuan(data["amount"], what="amount")
        proof = InclusionProof.from_json(data["proof"])
        root = SumRoot.from_json(data["root"])
        return check_pool(case_no=data["case_no"], day=day, amount=amount, proof=proof, root=root), proof.index

    return _document(doc, check)
