"""Builds ``tests/data/sumtree/vectors.json``: the sum-tree test vectors both verifiers must pass.

Run ``PYTHONPATH=src python tests/unit/sumtree_vectors.py`` to rewrite the file after a deliberate
format change (a new version tag); ``test_pseudonyms.py`` fails whenever the code and the stored
file disagree, and ``tests/browser/test_sumproof.py`` runs every vector through ``sumproof.js``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from huzhu_verify.leftover import pivot_point
from huzhu_verify.liabilities import (
    balance_leaf,
    liabilities_tree_id,
    pool_leaf,
    verify_balance_document,
    verify_pool_document,
)
from huzhu_verify.pseudonyms import TreeDerivation, leaf_hash, pool_secret
from huzhu_verify.runcheck import verify_share_document
from huzhu_verify.sumtree import (
    EMPTY_TOP,
    U64_MAX,
    SumTreeBuilder,
    format_yuan,
    inclusion_proof,
    node_hash,
    root_digest,
)

PATH = Path(__file__).resolve().parents[1] / "data" / "sumtree" / "vectors.json"
CASE = "HZ000001"
OTHER_CASE = "HZ000002"
DAY = date(2026, 11, 25)
CAP = 300


def vector_secret(i: int) -> bytes:
    return hashlib.sha256(f"huzhu test vector secret {i}".encode()).digest()


def _derivations() -> list[dict[str, str]]:
    out = []
    for i in range(3):
        for tree_id in (CASE, OTHER_CASE, liabilities_tree_id(DAY)):
            d = TreeDerivation(tree_id)
            out.append({"secret": vector_secret(i).hex(), "tree_id": tree_id,
                        "pseudonym": d.pseudonym(vector_secret(i)).hex(), "salt": d.salt(vector_secret(i)).hex()})
    return out


def _leaves() -> list[dict[str, str]]:
    d = TreeDerivation(CASE)
    s = vector_secret(0)
    out = []
    for kind, amount in (("share", 1), ("share", 204), ("share", 300), ("balance", 0), ("balance", 123456),
                         ("pool", 10_000_000), ("balance", U64_MAX)):
        salt, pseudonym = d.salt(s), d.pseudonym(s)
        out.append({"kind": kind, "salt": salt.hex(), "pseudonym": pseudonym.hex(), "amount": format_yuan(amount),
                    "leaf_hash": leaf_hash(kind, salt, pseudonym, amount).hex()})
    return out


def _nodes() -> list[dict[str, str]]:
    a, b = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    out = []
    for ls, rs in ((1, 2), (0, 0), (300, 299), (U64_MAX - 5, 5)):
        out.append({"left_hash": a.hex(), "left_sum": format_yuan(ls), "right_hash": b.hex(),
                    "right_sum": format_yuan(rs), "hash": node_hash(a, ls, b, rs).hex()})
    return out


def _roots() -> list[dict[str, Any]]:
    top = hashlib.sha256(b"top").digest()
    out = [{"kind": "share", "tree_id": CASE, "count": 0, "sum": "0.00", "top": EMPTY_TOP.hex(),
            "hash": root_digest("share", CASE, 0, 0, EMPTY_TOP).hex()}]
    for kind, tree_id, count, total in (("share", CASE, 7, 1234), ("liabilities", liabilities_tree_id(DAY), 5, 0),
                                        ("liabilities", liabilities_tree_id(DAY), 1_000_000, 987_654_321)):
        out.append({"kind": kind, "tree_id": tree_id, "count": count, "sum": format_yuan(total), "top": top.hex(),
                    "hash": root_digest(kind, tree_id, count, total, top).hex()})
    return out


def _share_tree() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Seven paying members of CASE (shares 1.00–2.99), in pseudonym order, and a proof for each."""
    d = TreeDerivation(CASE)
    amounts = [250, 120, 299, 204, 100, 180, 275]
    members = sorted((d.pseudonym(vector_secret(i)), vector_secret(i), amounts[i]) for i in range(7))
    leaves = [(d.leaf("share", secret, amount).leaf_hash, amount) for _, secret, amount in members]
    builder = SumTreeBuilder("share", CASE)
    builder.extend(leaves)
    root = builder.root()
    docs = []
    for index, (_, secret, amount) in enumerate(members):
        docs.append({"case_no": CASE, "secret": secret.hex(), "amount": format_yuan(amount), "cap": format_yuan(CAP),
                     "proof": inclusion_proof("share", CASE, leaves, index).to_json(), "root": root.to_json()})
    tree = {"case_no": CASE, "cap": format_yuan(CAP), "root": root.to_json(),
            "members": [{"secret": s.hex(), "pseudonym": p.hex(), "amount": format_yuan(a)} for p, s, a in members]}
    return tree, docs


def _yuan_plus(text: str, fen: int) -> str:
    whole, part = text.split(".")
    return format_yuan(int(whole) * 100 + int(part) + fen)


def _tampered_shares(valid: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    base = valid[2]
    cases: list[tuple[str, dict[str, Any]]] = []

    def variant(name: str, change: Any) -> None:
        doc = copy.deepcopy(base)
        change(doc)
        cases.append((name, doc))

    variant("amount + 0.01 (charged more than the tree holds)", lambda d: d.update(amount=_yuan_plus(d["amount"], 1)))
    variant("amount - 0.01", lambda d: d.update(amount=_yuan_plus(d["amount"], -1)))
    variant("another member's secret (wrong salt and pseudonym)", lambda d: d.update(secret=valid[3]["secret"]))
    variant("siblings swapped", lambda d: d["proof"].update(path=[d["proof"]["path"][1], d["proof"]["path"][0],
                                                                  *d["proof"]["path"][2:]]))
    variant("a sibling sum + 0.01", lambda d: d["proof"]["path"][1].update(sum=_yuan_plus(d["proof"]["path"][1]["sum"], 1)))
    variant("a sibling sum + 0.01 and the root sum too",
            lambda d: (d["proof"]["path"][1].update(sum=_yuan_plus(d["proof"]["path"][1]["sum"], 1)),
                       d["root"].update(sum=_yuan_plus(d["root"]["sum"], 1))))
    variant("a sibling hash changed", lambda d: d["proof"]["path"][0].update(
        hash=("0" if d["proof"]["path"][0]["hash"][0] != "0" else "1") + d["proof"]["path"][0]["hash"][1:]))
    variant("a single-leaf sibling claims 0.00 (zero leaf)", lambda d: d["proof"]["path"][0].update(sum="0.00"))
    variant("a sibling sum above the cap for its leaves", lambda d: d["proof"]["path"][0].update(sum="3.01"))
    variant("root count + 1 (a member invented)", lambda d: (d["root"].update(count=d["root"]["count"] + 1),
                                                             d["proof"].update(count=d["proof"]["count"] + 1)))
    variant("proof count differs from the root's", lambda d: d["proof"].update(count=d["proof"]["count"] + 1))
    variant("leaf index moved", lambda d: d["proof"].update(index=d["proof"]["index"] + 1))
    variant("index outside the tree", lambda d: d["proof"].update(index=d["root"]["count"]))
    variant("one step too many", lambda d: d["proof"]["path"].append(d["proof"]["path"][0]))
    variant("one step missing", lambda d: d["proof"]["path"].pop())
    variant("root of another case", lambda d: (d["root"].update(tree_id=OTHER_CASE),
                                               d["proof"].update(tree_id=OTHER_CASE)))
    variant("root hash changed", lambda d: d["root"].update(hash="f" * 64))
    variant("amount 0.00 (zero leaf)", lambda d: d.update(amount="0.00"))
    variant("negative amount", lambda d: d.update(amount="-0.01"))
    variant("amount above the cap", lambda d: d.update(amount="3.01"))
    variant("amount with one decimal", lambda d: d.update(amount="2.5"))
    variant("secret too short", lambda d: d.update(secret=d["secret"][:-2]))
    variant("secret not hex", lambda d: d.update(secret="z" + d["secret"][1:]))
    variant("proof step with an extra field", lambda d: d["proof"]["path"][0].update(side="left"))
    variant("root lacks its count", lambda d: d["root"].pop("count"))
    variant("sum too large for 64 bits", lambda d: d["proof"]["path"][0].update(sum="184467440737095516.16"))
    return cases


def _liabilities() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    balances = [0, 900, 301, 12345, 3]
    pools = [("HZ000001", 10_000_000), ("HZ000003", 4_500_000)]
    leaves = [(balance_leaf(vector_secret(i), DAY, b), ("member", i)) for i, b in enumerate(balances)]
    leaves += [(pool_leaf(case_no, DAY, amount), ("pool", case_no)) for case_no, amount in pools]
    leaves.sort(key=lambda item: item[0].pseudonym)
    pairs = [(leaf.leaf_hash, leaf.amount) for leaf, _ in leaves]
    builder = SumTreeBuilder("liabilities", liabilities_tree_id(DAY))
    builder.extend(pairs)
    root = builder.root()
    member_docs, pool_docs = [], []
    for index, (leaf, (kind, who)) in enumerate(leaves):
        proof = inclusion_proof("liabilities", liabilities_tree_id(DAY), pairs, index).to_json()
        if kind == "member":
            member_docs.append({"day": DAY.isoformat(), "secret": vector_secret(int(who)).hex(),
                                "amount": format_yuan(leaf.amount), "proof": proof, "root": root.to_json()})
        else:
            pool_docs.append({"case_no": who, "day": DAY.isoformat(), "amount": format_yuan(leaf.amount),
                              "proof": proof, "root": root.to_json()})
    tree = {"day": DAY.isoformat(), "root": root.to_json(),
            "pools": [{"case_no": c, "secret": pool_secret(c).hex(), "amount": format_yuan(a)} for c, a in pools]}
    return tree, member_docs, pool_docs


def _understated(member_docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator lowers member 1's balance (9.00 → 0.00) in the tree and publishes a smaller root."""
    balances = {i: b for i, b in enumerate([0, 900, 301, 12345, 3])}
    balances[1] = 0
    leaves = sorted([balance_leaf(vector_secret(i), DAY, b) for i, b in balances.items()]
                    + [pool_leaf("HZ000001", DAY, 10_000_000), pool_leaf("HZ000003", DAY, 4_500_000)],
                    key=lambda leaf: leaf.pseudonym)
    pairs = [(leaf.leaf_hash, leaf.amount) for leaf in leaves]
    builder = SumTreeBuilder("liabilities", liabilities_tree_id(DAY))
    builder.extend(pairs)
    mine = balance_leaf(vector_secret(1), DAY, 0).pseudonym
    index = next(i for i, leaf in enumerate(leaves) if leaf.pseudonym == mine)
    return {"day": DAY.isoformat(), "secret": vector_secret(1).hex(), "amount": "9.00",
            "proof": inclusion_proof("liabilities", liabilities_tree_id(DAY), pairs, index).to_json(),
            "root": builder.root().to_json()}


def _checked(name: str, doc: dict[str, Any], verify: Any, expect_ok: bool) -> dict[str, Any]:
    result = verify(doc)
    if result.ok != expect_ok:
        raise AssertionError(f"vector {name!r}: expected ok={expect_ok}, Python says {result.to_json()}")
    return {"name": name, "document": doc, "ok": result.ok, "reason": result.reason}


def build_vectors() -> dict[str, Any]:
    tree, valid = _share_tree()
    share_checks = [_checked(f"member {i} of {CASE}", doc, verify_share_document, True) for i, doc in enumerate(valid)]
    share_checks += [_checked(name, doc, verify_share_document, False) for name, doc in _tampered_shares(valid)]
    liabilities, member_docs, pool_docs = _liabilities()
    balance_checks = [_checked(f"balance {i}", doc, verify_balance_document, True) for i, doc in enumerate(member_docs)]
    first = member_docs[1]
    balance_checks += [
        _checked("balance + 0.01", {**first, "amount": _yuan_plus(first["amount"], 1)}, verify_balance_document, False),
        _checked("balance on another day", {**first, "day": "2026-11-26"}, verify_balance_document, False),
        _checked("not a calendar day", {**first, "day": "2026-02-30"}, verify_balance_document, False),
        _checked("liabilities understated: the member's real balance is not in the tree",
                 _understated(member_docs), verify_balance_document, False),
    ]
    pool_checks = [_checked(f"pool {doc['case_no']}", doc, verify_pool_document, True) for doc in pool_docs]
    pool_checks.append(_checked("pool under another case number", {**pool_docs[0], "case_no": "HZ000009"},
                                verify_pool_document, False))
    return {
        "about": ("huzhu Merkle-sum tree test vectors. Byte formats: src/huzhu_verify/sumtree.py and "
                  "pseudonyms.py. Amounts are yuan strings; hashes 64 lowercase hex digits. Every *_checks entry "
                  "must give the same ok and reason in every verifier (Python and sumproof.js)."),
        "derivations": _derivations(),
        "pool_secrets": [{"case_no": c, "secret": pool_secret(c).hex()} for c in (CASE, "HZ000003")],
        "leaves": _leaves(),
        "nodes": _nodes(),
        "roots": _roots(),
        "pivots": [{"case_no": c, "pivot": pivot_point(c).hex()} for c in (CASE, OTHER_CASE)],
        "share_tree": tree,
        "share_checks": share_checks,
        "liabilities_tree": liabilities,
        "balance_checks": balance_checks,
        "pool_checks": pool_checks,
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {PATH}")
