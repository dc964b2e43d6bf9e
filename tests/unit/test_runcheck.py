"""Run files and their recomputation (``huzhu_verify.runcheck``): the engine's result fen for fen,
every tampering caught and named, and the member's own check."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huzhu.apportionment.shares import allocate_level, allocate_shares, leftover_pivot
from huzhu_verify.leftover import RULE_V2, allocate
from huzhu_verify.pseudonyms import TreeDerivation
from huzhu_verify.runcheck import (
    RunHeader,
    RunReport,
    SharerRow,
    check_member_share,
    file_digest,
    leaf_index,
    level_file_from_run,
    main,
    member_line,
    read_header,
    recompute,
    verify_share_document,
    write_run_file,
)
from huzhu_verify.sumtree import (
    AmountOutOfRange,
    LevelFile,
    MalformedInput,
    SumMismatch,
    SumTreeBuilder,
    VerificationError,
    format_yuan,
)

CASE = "HZ000001"
CAP = 300
VECTORS = Path(__file__).resolve().parents[1] / "data" / "sumtree" / "vectors.json"


# ---------------------------------------------------------------- the server side, simulated


@dataclass
class Published:
    path: Path
    header: RunHeader
    secrets: dict[bytes, bytes]  # pseudonym → secret
    shares: dict[bytes, int]
    capacities: dict[bytes, int]


def _histogram(values: list[int]) -> dict[int, int]:
    histogram: dict[int, int] = {}
    for v in values:
        histogram[v] = histogram.get(v, 0) + 1
    return histogram


def publish(directory: Path, balances: list[int], benefit: int, *, case_no: str = CASE,
            name: str = "run.txt") -> Published:
    """What the server does for one case: capacities, the engine's figures, rule 2's shares, the file."""
    derivation = TreeDerivation(case_no)
    secrets = [hashlib.sha256(f"{case_no} member {i}".encode()).digest() for i in range(len(balances))]
    by_pseudonym = {derivation.pseudonym(s): s for s in secrets}
    capacities = {derivation.pseudonym(s): min(CAP, b) for s, b in zip(secrets, balances, strict=True)}
    engine = allocate_level(_histogram(list(capacities.values())) or {0: 0}, benefit)
    shares = allocate(capacities, benefit, RULE_V2, case_no=case_no).shares
    rows = [SharerRow(p, capacities[p], shares[p],
                      derivation.leaf("share", by_pseudonym[p], shares[p]).leaf_hash if shares[p] else None)
            for p in sorted(capacities)]
    path = directory / name
    header = write_run_file(path, case_no=case_no, plan="comprehensive-accident", rule=2, benefit=benefit, cap=CAP,
                            allocation=engine, rows=rows)
    return Published(path=path, header=header, secrets=by_pseudonym, shares=shares, capacities=capacities)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _fields(line: str) -> list[str]:
    return line.rstrip("\n").split("\t")


def _set_field(lines: list[str], index: int, field: int, value: str) -> list[str]:
    out = list(lines)
    fields = _fields(out[index])
    fields[field] = value
    out[index] = "\t".join(fields) + "\n"
    return out


def _set_header(lines: list[str], **changes: object) -> list[str]:
    data = json.loads(lines[0])
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            data[outer][inner] = value
        else:
            data[key] = value
    return [json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n", *lines[1:]]


def _reroot(lines: list[str]) -> list[str]:
    """An operator who republishes a changed file with a root (and totals) that fit its lines."""
    header = json.loads(lines[0])
    builder = SumTreeBuilder("share", header["case_no"])
    for line in lines[1:]:
        _, _, share, leaf = _fields(line)
        if leaf != "-":
            whole, part = share.split(".")
            builder.add(bytes.fromhex(leaf), int(whole) * 100 + int(part))
    root = builder.root()
    header["root"] = root.to_json()
    header["paying"], header["collected"], header["sharers"] = root.count, format_yuan(root.sum), len(lines) - 1
    return [json.dumps(header, sort_keys=True, separators=(",", ":")) + "\n", *lines[1:]]


def _yuan(text: str) -> int:
    whole, part = text.split(".")
    return int(whole) * 100 + int(part)


def _fields_named(report: RunReport) -> set[str]:
    return {d.field for d in report.differences}


# ---------------------------------------------------------------- strategies

balance_st = st.one_of(st.sampled_from([0, 1, 2, CAP - 1, CAP, CAP + 1, 900]), st.integers(min_value=0, max_value=2_000))
pool_st = st.one_of(
    st.lists(balance_st, min_size=0, max_size=50),
    st.lists(st.just(900), min_size=1, max_size=120),  # many equal capacities
    st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=30),  # tiny balances
)
benefit_st = st.one_of(st.integers(min_value=1, max_value=30_000), st.sampled_from([1, 299, 300, 301]))


@settings(max_examples=200, deadline=None)
@given(balances=pool_st, benefit=benefit_st)
def test_recomputation_equals_the_engine_fen_for_fen(balances: list[int], benefit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        published = publish(Path(tmp), balances, benefit)
        report = recompute(published.path)
    assert report.ok, report.summary()
    engine = allocate_level(_histogram([min(CAP, b) for b in balances]) or {0: 0}, benefit)
    assert report.computed is not None and asdict(report.computed) == asdict(engine)
    assert report.root == published.header.root
    assert report.root.sum == engine.collected and report.root.count == engine.paying_members
    assert report.lines == len(balances)


@settings(max_examples=300, deadline=None)
@given(balances=st.lists(balance_st, min_size=1, max_size=30), benefit=benefit_st, data=st.data())
def test_any_change_to_one_published_value_is_detected(balances: list[int], benefit: int,
                                                       data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        published = publish(Path(tmp), balances, benefit)
        lines = _lines(published.path)
        logged_digest = file_digest(published.path)
    logged_root = published.header.root
    target = data.draw(st.sampled_from(
        ["capacity", "share", "leaf", "benefit", "cap", "level", "leftover", "limited_by_balance", "paying",
         "collected", "shortfall", "sharers", "root.sum", "root.count", "root.hash"]), label="what")
    delta = data.draw(st.sampled_from([1, -1, 2]), label="delta")
    header = json.loads(lines[0])
    line = data.draw(st.integers(min_value=1, max_value=len(lines) - 1), label="line")
    fields = _fields(lines[line])
    if target == "capacity":
        if _yuan(fields[1]) + delta < 0:
            delta = -delta
        changed = _set_field(lines, line, 1, format_yuan(_yuan(fields[1]) + delta))
    elif target == "share":
        if _yuan(fields[2]) + delta < 0:
            delta = -delta
        changed = _set_field(lines, line, 2, format_yuan(_yuan(fields[2]) + delta))
    elif target == "leaf":
        if fields[3] == "-":
            changed = _set_field(lines, line, 3, "ab" * 32)
        else:
            changed = _set_field(lines, line, 3, ("0" if fields[3][0] != "0" else "1") + fields[3][1:])
    elif target in ("benefit", "cap", "level", "collected", "shortfall", "root.sum"):
        outer, _, inner = target.partition(".")
        current = header[outer][inner] if inner else header[outer]
        if _yuan(current) + delta < 0:
            delta = -delta
        changed = _set_header(lines, **{target: format_yuan(_yuan(current) + delta)})
    elif target == "root.hash":
        changed = _set_header(lines, **{target: hashlib.sha256(b"another root").hexdigest()})
    else:
        outer, _, inner = target.partition(".")
        current = header[outer][inner] if inner else header[outer]
        if current + delta < 0:
            delta = -delta
        changed = _set_header(lines, **{target: current + delta})
    assert changed != lines
    # With what the public log recorded (root and file digest), every change is caught.
    assert not recompute(changed, expected_root=logged_root, expected_digest=logged_digest).ok
    if target == "cap":
        # The cap is the plan's: compared with the plan's published cap.
        assert not recompute(changed, plan_cap=CAP).ok
    elif target != "capacity":
        # Everything but a capacity is caught by the recomputation alone.
        assert not recompute(changed).ok, (target, line)
    else:
        # A capacity alone is caught whenever it changes what anyone pays (or breaks the cap).
        pseudonym = bytes.fromhex(fields[0])
        capacities = {**published.capacities, pseudonym: _yuan(_fields(changed[line])[1])}
        redo = allocate(capacities, benefit, RULE_V2, case_no=CASE)
        if redo.shares != published.shares or max(capacities.values()) > CAP or \
                asdict(redo.allocation) != asdict(allocate(published.capacities, benefit, RULE_V2, case_no=CASE).allocation):
            assert not recompute(changed).ok


# ---------------------------------------------------------------- adversarial cases, each named


@pytest.fixture
def run(tmp_path: Path) -> Published:
    # 40 sharers: 30 able to pay the cap, 6 limited by balance, 4 with nothing; benefit leaves leftover fen.
    balances = [900] * 30 + [50, 120, 7, 299, 1, 200] + [0] * 4
    published = publish(tmp_path, balances, 5_003)
    assert published.header.leftover > 0 and published.header.limited_by_balance > 0
    assert recompute(published.path).ok
    return published


def test_an_invented_member_is_caught(run: Published) -> None:
    lines = _lines(run.path)
    invented = hashlib.sha256(b"nobody").hexdigest()
    row = f"{invented}\t3.00\t{format_yuan(run.header.level)}\t{hashlib.sha256(b'leaf').hexdigest()}\n"
    keyed = sorted([*lines[1:], row])
    changed = [lines[0], *keyed]
    report = recompute(changed)
    assert not report.ok
    assert {"sharers", "root.count", "root.hash"} <= _fields_named(report)


def test_an_invented_member_in_a_consistent_republication_needs_the_logged_root(run: Published) -> None:
    """An operator who invents a member and redoes every figure produces a file that adds up.

    The recomputation cannot know the member does not exist; what catches it is the root and file
    digest the public log recorded at the run, and (if the invented member pays from a balance no
    cash backs) the liabilities tree against the bank's cash (``test_liabilities``)."""
    invented = hashlib.sha256(b"nobody").digest()
    capacities = {**run.capacities, invented: 300}
    redo = allocate(capacities, run.header.benefit, RULE_V2, case_no=CASE)
    derivation = TreeDerivation(CASE)
    secrets = {**run.secrets, invented: hashlib.sha256(b"fake secret").digest()}
    rows = [SharerRow(p, capacities[p], redo.shares[p],
                      derivation.leaf("share", secrets[p], redo.shares[p]).leaf_hash if redo.shares[p] else None)
            for p in sorted(capacities)]
    forged = run.path.with_name("forged.txt")
    write_run_file(forged, case_no=CASE, plan="comprehensive-accident", rule=2, benefit=run.header.benefit, cap=CAP,
                   allocation=redo.allocation, rows=rows)
    assert recompute(forged).ok
    report = recompute(forged, expected_root=run.header.root, expected_digest=file_digest(run.path))
    assert {"root", "file sha256"} <= _fields_named(report)


def test_a_member_counted_twice_is_caught(run: Published) -> None:
    lines = _lines(run.path)
    changed = _reroot([lines[0], *lines[1:6], lines[5], *lines[6:]])
    report = recompute(changed)
    assert not report.ok
    assert any("counted twice" in d.message and d.line == 7 for d in report.differences), report.summary()


def test_a_negative_share_is_caught(run: Published) -> None:
    lines = _lines(run.path)
    report = recompute(_set_field(lines, 3, 2, "-0.01"))  # list index 3 is file line 4
    assert not report.ok
    assert any(d.line == 4 and "negative" in d.message for d in report.differences), report.summary()


def test_a_zero_leaf_is_caught(run: Published) -> None:
    lines = _lines(run.path)
    index = next(i for i, line in enumerate(lines) if i and _fields(line)[2] == "0.00")
    report = recompute(_set_field(lines, index, 3, hashlib.sha256(b"zero").hexdigest()))
    assert any(d.line == index + 1 and d.field == "leaf" and "no zero leaves" in d.message for d in report.differences)
    # A root over a zero leaf cannot even be built.
    with pytest.raises(AmountOutOfRange):
        SumTreeBuilder("share", CASE).add(hashlib.sha256(b"zero").digest(), 0)


def test_a_leftover_fen_moved_to_another_member_is_caught_even_when_the_root_is_redone(run: Published) -> None:
    lines = _lines(run.path)
    level = run.header.level
    gets = next(i for i, line in enumerate(lines) if i and _yuan(_fields(line)[2]) == level + 1)
    lacks = next(i for i, line in enumerate(lines)
                 if i and _yuan(_fields(line)[2]) == level and _yuan(_fields(line)[1]) > level)
    changed = _set_field(_set_field(lines, gets, 2, format_yuan(level)), lacks, 2, format_yuan(level + 1))
    for version in (changed, _reroot(changed)):
        report = recompute(version)
        share_lines = {d.line: d for d in report.differences if d.field == "share"}
        assert set(share_lines) == {gets + 1, lacks + 1}, report.summary()
        moved_to = share_lines[lacks + 1]
        assert (moved_to.expected, moved_to.published) == (format_yuan(level), format_yuan(level + 1))
        assert "one fen more than the rule gives" in moved_to.message
        assert "one fen less" in share_lines[gets + 1].message


def test_a_member_charged_more_than_their_capacity_is_caught(run: Published) -> None:
    lines = _lines(run.path)
    index = next(i for i, line in enumerate(lines) if i and _yuan(_fields(line)[1]) == 50)
    report = recompute(_reroot(_set_field(lines, index, 2, "0.51")))
    assert any(d.line == index + 1 and "more than they could pay" in d.message for d in report.differences)


def test_a_member_charged_more_than_published_finds_out_with_their_own_check(run: Published, tmp_path: Path) -> None:
    """The ledger took 0.01 more from this member than the run file (and the root) says: the
    member's check of what they were charged against the published root fails."""
    level_path = tmp_path / "run.lv"
    assert level_file_from_run(run.path, level_path) == run.header.root
    pseudonym = next(p for p in sorted(run.shares) if 0 < run.shares[p] < CAP)
    secret = run.secrets[pseudonym]
    index = leaf_index(run.path, pseudonym)
    assert index is not None
    with LevelFile(level_path) as levels:
        proof = levels.proof(index)
    charged = run.shares[pseudonym]
    ok = check_member_share(secret=secret, case_no=CASE, amount=charged, proof=proof, root=run.header.root, cap=CAP)
    assert ok.pseudonym == pseudonym
    with pytest.raises(VerificationError):
        check_member_share(secret=secret, case_no=CASE, amount=charged + 1, proof=proof, root=run.header.root, cap=CAP)
    # The member's own line says what was published for them.
    found = member_line(run.path, secret=secret, case_no=CASE)
    assert found is not None and found[1].share == charged


def test_every_paying_member_can_check_their_share(run: Published, tmp_path: Path) -> None:
    level_path = tmp_path / "run.lv"
    level_file_from_run(run.path, level_path)
    with LevelFile(level_path) as levels:
        for index, pseudonym in enumerate(p for p in sorted(run.shares) if run.shares[p]):
            document = {"case_no": CASE, "secret": run.secrets[pseudonym].hex(),
                        "amount": format_yuan(run.shares[pseudonym]), "cap": "3.00",
                        "proof": levels.proof(index).to_json(), "root": run.header.root.to_json()}
            result = verify_share_document(json.dumps(document))
            assert result.ok, result.message
            assert result.steps[0].endswith(pseudonym.hex())
    nonpaying = next(p for p in run.shares if run.shares[p] == 0)
    assert leaf_index(run.path, nonpaying) is None


@pytest.mark.parametrize(("field", "value", "named"), [
    ("level", "0.01", "level"), ("leftover", 0, "leftover"), ("limited_by_balance", 0, "limited_by_balance"),
    ("paying", 1, "paying"), ("collected", "0.01", "collected"), ("shortfall", "1.00", "shortfall"),
    ("sharers", 1, "sharers"), ("root.count", 3, "root.count"), ("root.sum", "1.00", "root.sum"),
    ("root.hash", "00" * 32, "root.hash"), ("benefit", "100.00", "level"), ("cap", "1.00", "capacity"),
    ("root.tree_id", "HZ000002", "root"),
])
def test_each_header_figure_is_checked(run: Published, field: str, value: object, named: str) -> None:
    report = recompute(_set_header(_lines(run.path), **{field: value}))
    assert named in _fields_named(report), report.summary()


def test_lines_out_of_order_malformed_or_with_crlf_are_named(run: Published) -> None:
    lines = _lines(run.path)
    swapped = [lines[0], lines[2], lines[1], *lines[3:]]
    assert any("ascending key order" in d.message and d.line == 3 for d in recompute(swapped).differences)
    crlf = [lines[0], lines[1].replace("\n", "\r\n"), *lines[2:]]
    assert any(d.line == 2 and d.field == "format" for d in recompute(crlf).differences)
    short = [lines[0], "abc\t3.00\n", *lines[2:]]
    assert any(d.line == 2 and "4 TAB-separated" in d.message for d in recompute(short).differences)
    upper = _set_field(lines, 4, 0, _fields(lines[4])[0].upper())
    assert any(d.line == 5 and "lowercase" in d.message for d in recompute(upper).differences)
    for bad_header in (["not json\n", *lines[1:]], [], [json.dumps({"format": "other"}) + "\n"]):
        report = recompute(bad_header)
        assert not report.ok and report.differences[0].line == 1
    assert not recompute(_set_header(lines, rule=3)).ok


def test_many_differences_are_counted_beyond_the_ones_listed(run: Published) -> None:
    lines = _lines(run.path)
    changed = _set_header(lines, benefit="10.00")  # every share changes
    report = recompute(changed, max_differences=5)
    assert len(report.differences) == 5 and report.omitted > 20
    assert f"and {report.omitted} more" in report.summary()


def test_rule_1_files_keyed_by_member_number_are_recomputed(tmp_path: Path) -> None:
    """Past runs used rule 1: the pivot is a member number, known only after reading every line."""
    capacities = {m: c for m, c in zip(range(3, 400, 7), [300] * 40 + [120, 5, 0, 299] * 4, strict=False)}
    benefit = 6_011
    pivot = leftover_pivot(CASE, max(capacities))
    allocation, shares = allocate_shares(capacities, benefit, pivot=pivot)
    assert allocation.leftover > 0
    rows = [SharerRow(m, capacities[m], shares[m], hashlib.sha256(str(m).encode()).digest() if shares[m] else None)
            for m in sorted(capacities)]
    path = tmp_path / "rule1.txt"
    write_run_file(path, case_no=CASE, plan="comprehensive-accident", rule=1, benefit=benefit, cap=CAP,
                   allocation=allocation, rows=rows)
    report = recompute(path)
    assert report.ok, report.summary()
    lines = _lines(path)
    gets = next(i for i, line in enumerate(lines) if i and _yuan(_fields(line)[2]) == allocation.level + 1)
    lacks = next(i for i, line in enumerate(lines) if i and _yuan(_fields(line)[2]) == allocation.level
                 and _yuan(_fields(line)[1]) > allocation.level)
    moved = _set_field(_set_field(lines, gets, 2, format_yuan(allocation.level)), lacks, 2,
                       format_yuan(allocation.level + 1))
    assert {d.line for d in recompute(_reroot(moved)).differences if d.field == "share"} == {gets + 1, lacks + 1}


def test_the_writer_refuses_rows_it_cannot_publish(tmp_path: Path) -> None:
    allocation = allocate_level({300: 1}, 100)
    with pytest.raises(MalformedInput):
        write_run_file(tmp_path / "x.txt", case_no=CASE, plan="p", rule=2, benefit=100, cap=CAP,
                       allocation=allocation,
                       rows=[SharerRow(b"\x01" * 32, 300, 100, None)])
    with pytest.raises(MalformedInput):
        write_run_file(tmp_path / "x.txt", case_no=CASE, plan="p", rule=2, benefit=100, cap=CAP,
                       allocation=allocation,
                       rows=[SharerRow(b"\x01" * 32, 300, 0, b"\x02" * 32)])
    assert not (tmp_path / "x.txt.rows").exists()


def test_level_file_from_a_run_must_hold_the_announced_leaves(run: Published, tmp_path: Path) -> None:
    lines = _lines(run.path)
    path = tmp_path / "short.txt"
    path.write_text("".join(lines[:-8]), encoding="utf-8")  # the header still announces every leaf
    with pytest.raises(SumMismatch):
        level_file_from_run(path, tmp_path / "short.lv")


def test_command_line(run: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(run.path)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and file_digest(run.path).hex() in out
    root_json = json.dumps(run.header.root.to_json())
    assert main([str(run.path), "--root", root_json, "--sha256", file_digest(run.path).hex()]) == 0
    bad = tmp_path / "bad.txt"
    capsys.readouterr()
    bad.write_text("".join(_set_field(_lines(run.path), 1, 2, "9.99")), encoding="utf-8")
    assert main([str(bad)]) == 1
    assert "line 2: share: expected" in capsys.readouterr().out
    assert main([str(run.path), "--sha256", "00" * 32]) == 1


def test_read_header_round_trips(run: Published) -> None:
    header = read_header(run.path)
    assert header == run.header
    assert header.to_line() == _lines(run.path)[0]


def test_python_verifier_gives_the_vectors_reasons() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    for case in vectors["share_checks"]:
        result = verify_share_document(case["document"])
        assert (result.ok, result.reason) == (case["ok"], case["reason"]), case["name"]
