"""Properties of rule 2 on both databases: the engine's set-based SQL (the sharing pool, the level, the
leftover fen by pseudonym) equals the outsider's recomputation from the published run file fen for
fen, for random pools (balances at and around the cap and the minimum, tiny pools, shortfalls); any
change to one published value is detected; and the adversarial cases are each caught."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from huzhu.apportionment import service as engine
from huzhu.apportionment.shares import allocate_level
from huzhu.platform import Platform
from huzhu_verify.leftover import RULE_V2, allocate, pivot_point
from huzhu_verify.liabilities import balance_leaf, check_member_balance, liabilities_match
from huzhu_verify.pseudonyms import TreeDerivation
from huzhu_verify.runcheck import SharerRow, recompute, verify_share_document, write_run_file
from huzhu_verify.sumtree import (
    InclusionProof,
    VerificationError,
    format_yuan,
    inclusion_proof,
    parse_yuan,
    root_of,
)

CAP = 300
CASE = "HZ000042"
capacities = st.lists(st.one_of(st.sampled_from([0, 1, 2, 299, 300]), st.integers(0, CAP)), min_size=0, max_size=40)
benefits = st.one_of(st.integers(1, 50), st.integers(1, 15_000))


def _secret(i: int, seed: int) -> bytes:
    return hashlib.sha256(f"member-{seed}-{i}".encode()).digest()


def _engine_shares(platform: Platform, caps: list[int], benefit: int, seed: int):  # noqa: ANN202
    """Fill the engine's sharing pool directly and run its own SQL for level and leftover fen."""
    derive = TreeDerivation(CASE)
    with platform.factory() as s:
        engine._prepare_pool_table(s)
        for i, cap in enumerate(caps):
            secret = _secret(i, seed)
            s.execute(text("INSERT INTO share_pool (member_id, account_id, capacity, pseudonym, secret) "
                           "VALUES (:m, :a, :c, :p, :s)"),
                      {"m": i + 1, "a": i + 1, "c": cap, "p": derive.pseudonym(secret), "s": secret})
        histogram = {int(c): int(n) for c, n in s.execute(text("SELECT capacity, COUNT(*) FROM share_pool GROUP BY capacity"))}
        allocation = allocate_level(histogram or {0: 0}, benefit)
        leftover = engine._leftover_condition(s, allocation, pivot_point(CASE), key="pseudonym")
        rows = [(bytes(p), int(c), int(sh), bytes(sec)) for p, c, sh, sec in s.execute(engine.sharer_rows(allocation, leftover))]
        s.rollback()
    return allocation, rows


def _publish(tmp: Path, allocation, rows) -> tuple[Path, object]:  # noqa: ANN001
    derive = TreeDerivation(CASE)
    sharers = [SharerRow(key=p, capacity=c, share=sh,
                         leaf_hash=derive.leaf("share", sec, sh).leaf_hash if sh else None) for p, c, sh, sec in rows]
    path = tmp / f"{CASE}.tsv"
    header = write_run_file(path, case_no=CASE, plan="driving", rule=2, benefit=allocation.benefit, cap=CAP,
                            allocation=allocation, rows=sharers)
    return path, header


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(caps=capacities, benefit=benefits, seed=st.integers(0, 10**6))
def test_the_engine_equals_the_recomputation_fen_for_fen(platform: Platform, tmp_path: Path, caps: list[int],
                                                          benefit: int, seed: int) -> None:
    allocation, rows = _engine_shares(platform, caps, benefit, seed)
    # The independent, published rule gives every sharer the same share as the engine's SQL.
    reference = allocate({p: c for p, c, _, _ in rows}, benefit, RULE_V2, case_no=CASE)
    assert {p: sh for p, _, sh, _ in rows} == reference.shares
    assert (allocation.level, allocation.leftover, allocation.collected) == (
        reference.allocation.level, reference.allocation.leftover, reference.allocation.collected)
    path, header = _publish(tmp_path, allocation, rows)
    report = recompute(path, expected_root=header.root, plan_cap=CAP)
    assert report.ok, report.summary()
    assert report.root is not None and (report.root.sum, report.root.count) == (
        allocation.collected, allocation.paying_members)
    assert header.root.sum == sum(sh for _, _, sh, _ in rows) == allocation.collected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(caps=st.lists(st.integers(0, CAP), min_size=2, max_size=30), benefit=st.integers(1, 5000),
       seed=st.integers(0, 10**6), data=st.data())
def test_any_change_to_one_published_value_is_detected(platform: Platform, tmp_path: Path, caps: list[int],
                                                       benefit: int, seed: int, data: st.DataObject) -> None:
    allocation, rows = _engine_shares(platform, caps, benefit, seed)
    path, header = _publish(tmp_path, allocation, rows)
    good = path.read_bytes()
    digest = hashlib.sha256(good).digest()
    lines = good.decode().splitlines(keepends=True)
    line_no = data.draw(st.integers(1, len(lines) - 1))
    fields = lines[line_no].rstrip("\n").split("\t")
    column = data.draw(st.sampled_from([1, 2, 3]))  # capacity, share, leaf (salt changes show as the leaf)
    if column == 3:
        fields[3] = "0" * 64 if fields[3] != "0" * 64 else "1" * 64
    else:
        fen = parse_yuan(fields[column])
        fields[column] = format_yuan(fen + 1 if fen == 0 else fen - 1)
    lines[line_no] = "\t".join(fields) + "\n"
    tampered = [*lines]
    report = recompute(tampered, expected_root=header.root, expected_digest=digest)
    assert not report.ok


@pytest.fixture
def published(platform: Platform, tmp_path: Path):  # noqa: ANN201
    caps = [300, 300, 120, 0, 300, 299, 1, 300, 300, 300]
    allocation, rows = _engine_shares(platform, caps, 1001, 7)
    path, header = _publish(tmp_path, allocation, rows)
    return path.read_text(encoding="utf-8").splitlines(keepends=True), header, rows


def _differences(lines: list[str], header) -> list[str]:  # noqa: ANN001
    report = recompute(lines, expected_root=header.root)
    assert not report.ok
    return [str(d) for d in report.differences]


def test_an_invented_member_is_caught(published) -> None:  # noqa: ANN001
    lines, header, _ = published
    invented = "f" * 64 + "\t3.00\t1.00\t" + "e" * 64 + "\n"
    assert any("root" in d or "sharers" in d for d in _differences([*lines, invented], header))


def test_a_member_counted_twice_is_caught(published) -> None:  # noqa: ANN001
    lines, header, _ = published
    doubled = [*lines[:2], lines[1], *lines[2:]]
    assert any("counted twice" in d for d in _differences(doubled, header))


def test_a_zero_or_negative_leaf_is_caught(published) -> None:  # noqa: ANN001
    lines, header, _ = published
    i = next(i for i, line in enumerate(lines[1:], start=1) if line.split("\t")[3].strip() != "-")
    fields = lines[i].split("\t")
    zero = [*lines]
    zero[i] = "\t".join([fields[0], fields[1], "0.00", fields[3]])
    assert any("pays nothing, so has no leaf" in d for d in _differences(zero, header))
    negative = [*lines]
    negative[i] = "\t".join([fields[0], fields[1], "-0.01", fields[3]])
    assert _differences(negative, header)


def test_one_fen_moved_to_another_member_is_caught(published) -> None:  # noqa: ANN001
    lines, header, _ = published
    paying = [i for i, line in enumerate(lines[1:], start=1) if line.split("\t")[3].strip() != "-"]
    a, b = paying[0], paying[-1]
    moved = [*lines]
    fa, fb = moved[a].split("\t"), moved[b].split("\t")
    fa[2] = format_yuan(parse_yuan(fa[2]) + 1)
    fb[2] = format_yuan(parse_yuan(fb[2]) - 1)
    moved[a], moved[b] = "\t".join(fa), "\t".join(fb)
    found = _differences(moved, header)
    assert any(f"line {a + 1}" in d for d in found) and any(f"line {b + 1}" in d for d in found)


def test_a_member_charged_more_than_published_is_caught(published) -> None:  # noqa: ANN001
    _, header, rows = published
    derive = TreeDerivation(CASE)
    leaves = [(derive.leaf("share", sec, sh).leaf_hash, sh) for _, _, sh, sec in rows if sh]
    paying = [(p, sh, sec) for p, _, sh, sec in rows if sh]
    index = 2
    _, share, secret = paying[index]
    proof = inclusion_proof("share", CASE, leaves, index)
    doc = {"case_no": CASE, "secret": secret.hex(), "amount": format_yuan(share), "cap": format_yuan(CAP),
           "proof": proof.to_json(), "root": header.root.to_json()}
    assert verify_share_document(doc).ok
    doc["amount"] = format_yuan(share + 1)  # what the ledger charged: one fen more than the tree holds
    assert not verify_share_document(doc).ok


def test_understated_liabilities_are_caught() -> None:
    day = date(2027, 1, 5)
    secrets = [_secret(i, 99) for i in range(9)]
    balances = [0, 1, 300, 900, 12_345, 7, 0, 100_000, 42]
    leaves = sorted(((balance_leaf(sec, day, amt), sec) for sec, amt in zip(secrets, balances, strict=True)),
                    key=lambda pair: pair[0].pseudonym)
    honest = [(leaf.leaf_hash, leaf.amount) for leaf, _ in leaves]
    tree_id = f"liabilities-{day.isoformat()}"
    from huzhu_verify.sumtree import SumTreeBuilder

    def root_over(items: list[tuple[bytes, int]]):  # noqa: ANN202
        builder = SumTreeBuilder("liabilities", tree_id)
        for h, amount in items:
            builder.add(h, amount)
        return builder.root()

    # The operator leaves one member's balance 1.00 short: that member's check fails ...
    target = max(range(len(leaves)), key=lambda i: leaves[i][0].amount)
    understated = [*honest]
    low = leaves[target][0].amount - 100
    understated[target] = (balance_leaf(leaves[target][1], day, low).leaf_hash, low)
    root = root_over(understated)
    proof = inclusion_proof("liabilities", tree_id, understated, target)
    with pytest.raises(VerificationError):
        check_member_balance(secret=leaves[target][1], day=day, amount=leaves[target][0].amount, proof=proof, root=root)
    # ... and, against the cash the bank holds for the true balances, the difference is published.
    check = liabilities_match(root.sum, sum(balances))
    assert not check.matches and check.difference == 100
    assert root_of("liabilities", tree_id, root.count, root.sum, b"\x00" * 32) != root
    assert InclusionProof.from_json(proof.to_json()) == proof
