"""Every fen provable on a real database (SQLite and PostgreSQL): a rule-2 run publishes its run file
and share tree, an outsider's recomputation from the published data alone equals the ledger fen for
fen, each member's share and balance leaf proves against the published roots, the daily liabilities
tree sums every balance and pool, and its check against the custodian's cash publishes any difference."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from huzhu.app import build_platform
from huzhu.apportionment import service as engine
from huzhu.apportionment.bundle import export_run_bundle
from huzhu.apportionment.models import RunCase
from huzhu.clock import FixedClock
from huzhu.config import Settings
from huzhu.jobs import run_jobs
from huzhu.ledger.invariants import check_ledger
from huzhu.members.models import Member
from huzhu.notices.models import Case
from huzhu.platform import Platform
from huzhu.provable import service as provable
from huzhu.provable.models import SumTree
from huzhu.provable.store import tree_paths
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import append_record, verify_chain
from huzhu_verify import leafblocks
from huzhu_verify.leftover import RULE_V2
from huzhu_verify.liabilities import verify_balance_document
from huzhu_verify.pseudonyms import TreeDerivation
from huzhu_verify.runcheck import recompute, verify_share_document
from huzhu_verify.sumtree import SumRoot, format_yuan, parse_yuan

from .helpers import (
    DRIVING,
    approved_case,
    at,
    driving_facts,
    import_pool,
    join_member,
    make_staff,
    shares_of_transfer,
)

REPO = Path(__file__).resolve().parents[2]
# Balances around the 3.00 minimum and the 3.00 cap, so some members are limited by their balance.
POOL = ["0.00", "1.00", "2.99", "3.00", "3.01", "4.50", "5.99", "6.00", "9.00", "12.00", "100.00"] * 3


@pytest.fixture
def v2_platform(database_url: str, tmp_path: Path, clock: FixedClock) -> Platform:
    settings = Settings(mode="sandbox", database_url=database_url, data_dir=tmp_path / "data",
                        plans_dir=REPO / "plans", leftover_rule_v2_from=date(2015, 1, 1))
    built = build_platform(settings, clock=clock)
    yield built
    built.engine.dispose()


def _records(s, kind: str) -> list[dict]:  # noqa: ANN001
    return [json.loads(r.payload) for r in s.scalars(select(PublicRecord).where(PublicRecord.kind == kind)
                                                     .order_by(PublicRecord.leaf_index))]


def _case_due(platform: Platform, clock: FixedClock, tmp_path: Path, amount: str, pool: list[str] = POOL) -> int:
    """A driving case of ``amount`` over an imported pool, approved, its notice over on 2015-03-13."""
    staff = make_staff(platform, clock)
    import_pool(platform, clock, tmp_path / "pool.csv", pool)
    claimant = join_member(platform, clock, name="司机甲", plans=(DRIVING,))
    clock.set(at("2015-03-05"))
    case_id = approved_case(platform, clock, staff, claimant, plan=DRIVING, benefit="third_party_liability",
                            incident=date(2015, 3, 3), facts=driving_facts(amount))
    clock.set(at("2015-03-13"))
    return case_id


def _share_run(platform: Platform, clock: FixedClock, tmp_path: Path, amount: str, pool: list[str] = POOL,  # noqa: ANN202
               before_run: Callable[[], None] | None = None):
    case_id = _case_due(platform, clock, tmp_path, amount, pool)
    if before_run is not None:
        before_run()
    report = run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian, now=clock.now())
    assert report.run_no is not None
    return report, case_id


def test_a_rule_2_run_is_recomputed_from_published_data_fen_for_fen(v2_platform: Platform, clock: FixedClock,
                                                                    tmp_path: Path) -> None:
    report, case_id = _share_run(v2_platform, clock, tmp_path, "37.37")
    with v2_platform.factory() as s:
        case = s.get(Case, case_id)
        rc = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
        assert case is not None and rc is not None
        assert rc.rule_version == 2 and (rc.level_fen, rc.leftover_fen) == (155, 17)
        # The rule and its effective date are in the log, before the run's records.
        rules = _records(s, "leftover_rule")
        assert rules[0]["version"] == 2 and rules[0]["effective_from"] == "2015-01-01"
        assert rules[0]["rule_en"] == RULE_V2.text_en
        shared = _records(s, "case_shared")[-1]
        assert shared["leftover_rule_version"] == 2 and "leftover_pivot_member" not in shared
        published = _records(s, "run_sum_root")[-1]
        root = SumRoot.from_json(published["root"])
        assert (root.count, root.sum) == (rc.paying_members, rc.collected_fen) == (24, 3737)
        # The outsider recomputes from the run file and the log's root and SHA-256 alone.
        inputs = tree_paths(s, "share", case.case_no)["inputs"]
        checked = recompute(inputs, expected_root=root, expected_digest=bytes.fromhex(published["inputs_sha256"]),
                            plan_cap=300)
        assert checked.ok, checked.summary()
        # The run file's shares are the ledger's, member by member (joined through each one's pseudonym).
        ledger = shares_of_transfer(s, rc.transfer_id)
        derive = TreeDerivation(case.case_no)
        by_pseudonym = {derive.pseudonym(m.verify_secret).hex(): m.id for m in s.scalars(select(Member))}
        lines = inputs.read_text(encoding="utf-8").splitlines()[1:]
        from_file = {by_pseudonym[line.split("\t")[0]]: parse_yuan(line.split("\t")[2]) for line in lines}
        assert {m: v for m, v in from_file.items() if v} == ledger
        # Every paying member's own leaf proves against the published root; a non-sharer has none.
        for member_id in ledger:
            member = s.get(Member, member_id)
            doc = provable.member_share_document(s, member=member, case=case, run_case=rc)
            assert doc is not None and doc["root"] == published["root"]
            result = verify_share_document(doc)
            assert result.ok, result.message
            # A member charged one fen more than the tree holds for them fails their check.
            doc["amount"] = format_yuan(ledger[member_id] + 1)
            assert verify_share_document(doc).reason in {"root_mismatch", "sum_mismatch", "amount_out_of_range"}
        assert check_ledger(s) == [] and verify_chain(s) == []


# The bytes of a fixed input, pinned: the same members, secrets, balances and case give these roots and
# this run file on both databases, whatever the build does inside (SQL or Python sort, batch sizes).
PINNED = {
    "share_root": "dfaa27b84c702be785a45d0dcca41052d5e3a8701c123d0b76bd2998a351cb6f",
    "inputs_sha256": "3d3c7e42c084b4ad304b98899a0a74f95968004f7d4954ced6264495299a33df",
    "liabilities_root": "84c8a3998f54c66c8831f6f968259b1a1e432eaf66b20a11aab98cea109a2f01",
}


@pytest.mark.parametrize("blocks", ["one process", "blocks of 4 leaves", "blocks of 4 leaves in 2 workers"])
def test_the_roots_and_the_run_file_of_a_fixed_input_are_pinned(v2_platform: Platform, clock: FixedClock,
                                                                  tmp_path: Path, blocks: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # The big-tree path (perfect blocks of leaves hashed apart, in worker processes) gives the same
    # bytes: blocks of 4 leaves put non-paying sharers and the case pools inside and across blocks.
    if blocks != "one process":
        monkeypatch.setattr(leafblocks, "BLOCK_LEAVES", 4)
    if blocks.endswith("workers"):
        monkeypatch.setattr(leafblocks, "worker_count", lambda leaves: 2)
    def fixed_secrets() -> None:
        with v2_platform.factory() as s:
            for member_id in s.scalars(text("SELECT id FROM members ORDER BY id")).all():
                s.execute(text("UPDATE members SET verify_secret = :secret WHERE id = :id"),
                          {"id": member_id, "secret": hashlib.sha256(b"pinned|%d" % member_id).digest()})
            s.commit()

    _share_run(v2_platform, clock, tmp_path, "37.37", before_run=fixed_secrets)
    with v2_platform.factory() as s:
        share = s.scalar(select(SumTree).where(SumTree.kind == "share"))
        liabilities = s.scalar(select(SumTree).where(SumTree.kind == "liabilities"))
        assert share is not None and liabilities is not None
        assert {"share_root": share.root_hash, "inputs_sha256": share.inputs_sha256,
                "liabilities_root": liabilities.root_hash} == PINNED


@pytest.mark.parametrize("amount", ["37.37", "0.07"])
def test_the_trees_are_the_same_bytes_in_blocks_and_in_workers(v2_platform: Platform, clock: FixedClock,
                                                                tmp_path: Path, amount: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The run and the day's liabilities, built four ways in turn (each rolled back): one process, blocks
    # of 4 leaves, and blocks in 2 worker processes. Apportioned, not yet paid out, the case pool holds
    # what was collected and is a leaf of the day; 0.07 over 34 sharers leaves most paying nothing (a
    # line in the run file, no leaf), so blocks are cut among non-payers.
    case_id = _case_due(v2_platform, clock, tmp_path, amount)
    built = {}
    for mode, block, workers in [("one process", 1 << 16, 0), ("blocks of 4", 4, 0), ("2 workers", 4, 2),
                                 ("blocks of 1 in 2 workers", 1, 2)]:
        monkeypatch.setattr(leafblocks, "BLOCK_LEAVES", block)
        monkeypatch.setattr(leafblocks, "worker_count", lambda leaves, workers=workers: workers)
        with v2_platform.factory() as s:
            assert engine.apportion_due_cases(s, plans=v2_platform.plans, now=clock.now()) is not None
            liabilities = provable.build_liabilities(s, now=clock.now())
            case = s.get(Case, case_id)
            share = s.scalar(select(SumTree).where(SumTree.kind == "share"))
            assert liabilities is not None and liabilities.pools_count == 1 and share is not None
            files = []
            for kind, tree_id in (("share", case.case_no), ("liabilities", liabilities.tree_id)):
                paths = tree_paths(s, kind, tree_id)
                files += [paths[name].read_bytes() for name in ("levels", "keys", "inputs") if paths[name].exists()]
            rc = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
            assert recompute(tree_paths(s, "share", case.case_no)["inputs"], plan_cap=300).ok
            if amount == "0.07":
                assert share.members_count > share.leaf_count == 7 == rc.paying_members
            member = s.scalar(select(Member).order_by(Member.id.desc()).limit(1))
            assert verify_balance_document(provable.member_balance_document(s, member=member)).ok
            built[mode] = (share.root_hash, liabilities.root_hash, *files)
            s.rollback()  # the same run and day once more, built another way
    assert len(set(built.values())) == 1, {mode: value[:2] for mode, value in built.items()}


def test_the_liabilities_tree_sums_every_balance_and_pool_and_publishes_the_difference(
        v2_platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    report, case_id = _share_run(v2_platform, clock, tmp_path, "37.37")
    assert report.liabilities_published == "liabilities-2015-03-13"
    with v2_platform.factory() as s:
        tree = s.scalar(select(SumTree).where(SumTree.kind == "liabilities"))
        assert tree is not None
        balances = sum(m.ledger_account_id and 1 for m in s.scalars(select(Member)))  # members counted
        assert tree.members_count == balances
        check = provable.liabilities_check(s)
        assert check is not None and check["attested"] is False
        assert check["cash_source"] == "platform_ledger_not_attested"
        # Custody cash equals balances + pools on a consistent ledger: no difference.
        assert check["difference"] == "0.00" and check["matches"] is True
        assert check["liabilities"] == check["cash"]
        for member in s.scalars(select(Member)):
            doc = provable.member_balance_document(s, member=member)
            assert doc is not None
            result = verify_balance_document(doc)
            assert result.ok, result.message
        # The bank attests less cash than the liabilities: the shortfall is published with its sign.
        liabilities = tree.total_fen
        append_record(s, kind="custody_attestation", subject="2015-03-13", payload={
            "business_date": "2015-03-13", "closing_balance": format_yuan(liabilities - 1234),
            "statement_sha256": "ab" * 32, "note": "signed note", "bank_key": "bank+key"}, now=clock.now())
        s.commit()
        check = provable.liabilities_check(s)
        assert check["attested"] is True and check["matches"] is False
        assert check["difference"] == "-12.34" and "shortfall" in check["message"]


def test_a_run_before_rule_2_keeps_rule_1_and_its_published_data(platform: Platform, clock: FixedClock,
                                                                  tmp_path: Path) -> None:
    report, case_id = _share_run(platform, clock, tmp_path, "37.37")
    with platform.factory() as s:
        rc = s.scalar(select(RunCase).where(RunCase.case_id == case_id))
        assert rc is not None and rc.rule_version == 1 and rc.leftover_pivot_member_id > 0
        assert _records(s, "run_sum_root") == []
        assert _records(s, "leftover_rule")[0]["effective_from"] == RULE_V2.effective_from.isoformat()
        assert _records(s, "case_shared")[-1]["leftover_pivot_member"] == rc.leftover_pivot_member_id


def test_the_bundle_lets_huzhu_verify_recompute_the_run_offline(v2_platform: Platform, clock: FixedClock,
                                                                 tmp_path: Path) -> None:
    from huzhu_verify.cli import main

    report, case_id = _share_run(v2_platform, clock, tmp_path, "37.37")
    bundle = tmp_path / "bundle"
    with v2_platform.factory() as s:
        export_run_bundle(s, report.run_no, bundle)
    out = tmp_path / "out.txt"
    with out.open("w") as fh:
        assert main(["run", report.run_no, "--bundle", str(bundle)], out=fh) == 0
    assert "RESULT" in out.read_text() and "FAIL" not in out.read_text()
    # One fen moved from one member to another in the published file: caught, and the lines named.
    files = list(bundle.glob("*.tsv"))
    lines = files[0].read_text(encoding="utf-8").splitlines(keepends=True)
    paying = [i for i, line in enumerate(lines[1:], start=1) if line.split("\t")[3].strip() != "-"]
    a, b = paying[0], paying[1]
    fa, fb = lines[a].split("\t"), lines[b].split("\t")
    fa[2] = format_yuan(parse_yuan(fa[2]) + 1)
    fb[2] = format_yuan(parse_yuan(fb[2]) - 1)
    lines[a], lines[b] = "\t".join(fa), "\t".join(fb)
    files[0].write_text("".join(lines), encoding="utf-8")
    with out.open("w") as fh:
        assert main(["run", report.run_no, "--bundle", str(bundle)], out=fh) == 1
    text = out.read_text()
    assert "FAIL" in text and f"line {a + 1}" in text


def test_the_api_publishes_run_inputs_and_gives_proofs_only_to_the_member(v2_platform: Platform, clock: FixedClock,
                                                                        tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from huzhu.app import create_app

    from .helpers import PASSWORD

    me = join_member(v2_platform, clock, name="会员乙", plans=(DRIVING,), phone="13911112222")
    other = join_member(v2_platform, clock, name="会员丙", plans=(DRIVING,), phone="13911113333")
    report, case_id = _share_run(v2_platform, clock, tmp_path, "37.37")
    with v2_platform.factory() as s:
        case_no = s.get(Case, case_id).case_no
    with TestClient(create_app(v2_platform)) as client:
        index = client.get(f"/api/v1/runs/{report.run_no}/inputs")
        assert index.status_code == 200, index.text
        case = index.json()["cases"][0]
        assert case["rule"] == 2 and case["root"]["count"] == 26 and index.json()["leftover_rules"][0]["version"] == 2
        run_file = client.get(case["inputs_url"])
        assert run_file.status_code == 200 and run_file.headers["content-type"].startswith("text/tab-separated-values")
        lines = run_file.text.splitlines(keepends=True)
        assert recompute(lines, expected_root=SumRoot.from_json(case["root"])).ok
        assert "会员" not in run_file.text and "13911112222" not in run_file.text
        assert client.get(f"/api/v1/runs/{report.run_no}").json()["leftover_rule"] == RULE_V2.text_en
        assert "假名" in client.get(f"/runs/{report.run_no}", headers={"Accept-Language": "zh-CN"}).text
        check = client.get("/api/v1/liabilities").json()
        assert check["difference"] == "0.00" and check["attested"] is False
        page = client.get("/liabilities", headers={"Accept-Language": "zh-CN"}).text
        assert "资金与负债相等" in page and "未经银行证明" in page and check["root"]["hash"] in page

        token = client.post("/api/v1/auth/token", data={"username": "13911112222", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        mine = client.get(f"/api/v1/members/{me.member_id}/proofs/balance", headers=headers)
        assert mine.status_code == 200 and verify_balance_document(mine.json()).ok
        share = client.get(f"/api/v1/members/{me.member_id}/proofs/shares/{case_no}", headers=headers)
        assert share.status_code == 200 and share.json()["root"] == case["root"]
        assert verify_share_document(share.json()).ok
        # Another member's proofs (and secret) are refused.
        assert client.get(f"/api/v1/members/{other.member_id}/proofs/balance", headers=headers).status_code in (403, 404)
        assert client.get(f"/api/v1/members/{other.member_id}/proofs/shares/{case_no}",
                          headers=headers).status_code in (403, 404)
        assert client.get(f"/api/v1/members/{me.member_id}/proofs/balance").status_code == 401


def test_migration_0012_backfills_a_distinct_secret_for_every_existing_member(platform: Platform,
                                                                              clock: FixedClock,
                                                                              tmp_path: Path) -> None:
    from sqlalchemy import inspect, text

    from huzhu.migrate import downgrade, upgrade

    import_pool(platform, clock, tmp_path / "pool.csv", ["9.00"] * 12)
    key = platform.settings.id_number_key.get_secret_value()
    downgrade(platform.engine, "0011", id_number_key=key, data_dir=platform.settings.data_dir)
    assert "verify_secret" not in {c["name"] for c in inspect(platform.engine).get_columns("members")}
    upgrade(platform.engine, id_number_key=key, data_dir=platform.settings.data_dir)
    with platform.factory() as s:
        secrets = [bytes(b) for b in s.scalars(text("SELECT verify_secret FROM members"))]
        assert len(secrets) == 12 and all(len(b) == 32 for b in secrets) and len(set(secrets)) == 12
        assert s.scalar(text("SELECT MIN(rule_version) FROM run_cases")) is None


def test_the_published_effective_date_binds_later_runs(v2_platform: Platform, clock: FixedClock) -> None:
    from huzhu.provable.store import RULE_V2_FROM_KEY

    with v2_platform.factory() as s:
        assert provable.rule_for_run(s, now=clock.now()).version == 2
        s.commit()
    with v2_platform.factory() as s:
        s.info[RULE_V2_FROM_KEY] = date(2030, 1, 1)  # a later change of the setting does not move the rule back
        assert provable.rule_for_run(s, now=clock.now()).version == 2
        assert len(_records(s, "leftover_rule")) == 1
