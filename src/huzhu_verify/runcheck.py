"""The published inputs of one case's apportionment, their writer, and their recomputation.

This module owns the **run file** (one per shared case, holding no identity), ``recompute`` (which
re-does the case from the file alone and reports every difference) and the member's own check of
their share against the published root. Standard library only: ``python -m huzhu_verify.runcheck
FILE`` runs the recomputation offline.

Run file, format ``huzhu-run-inputs/1``: UTF-8 text, every line ending in ``\\n``.

Line 1, the header: one JSON object, keys sorted, no spaces (``json.dumps(sort_keys=True,
separators=(",", ":"))``). Amounts are yuan strings with two decimals, counts are integers.

=================== ===========================================================================
``format``          ``"huzhu-run-inputs/1"``
``case_no``         the case number; also the share tree's id and the pseudonyms' scope
``plan``            the plan code
``rule``            leftover-fen rule version (``leftover.RULES``): 2 keys lines by pseudonym,
                    1 (runs before version 2) by member number
``benefit``         the approved aid, e.g. ``"100000.00"``
``cap``             the most one member pays for one case, e.g. ``"3.00"``
``sharers``         how many sharer lines follow
``level``           the equal share
``leftover``        how many sharers pay one fen more than the level
``limited_by_balance`` sharers whose capacity is below the level (they pay their capacity)
``paying``          sharers paying at least 0.01 (the share tree's leaf count)
``collected``       the sum of the shares
``shortfall``       ``benefit − collected``
``root``            the share tree's root: ``{"kind":"share","tree_id":<case_no>,"count":<paying>,
                    "sum":<collected>,"hash":<64 hex digits: the root digest, see sumtree>}``
=================== ===========================================================================

Lines 2…, one per sharer in strictly ascending key order, four fields separated by one TAB:
``key`` (rule 2: the member's pseudonym for the case, 64 lowercase hex digits; rule 1: the member
number, decimal), ``capacity`` (``min(cap, available balance)`` at the run, yuan), ``share`` (what
the member paid, yuan) and ``leaf`` (the salted leaf hash, 64 lowercase hex digits, or ``-`` when the
share is 0.00). The share tree's leaves are ``(leaf, share)`` of the lines with a leaf, in file order.

The file's SHA-256 (:func:`file_digest`) is what the public log should record beside the root.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from huzhu_verify.leftover import (
    Allocation,
    LeftoverRule,
    leftover_split,
    member_number_pivot,
    pivot_point,
    rule_by_version,
    water_fill,
)
from huzhu_verify.pseudonyms import TreeDerivation, parse_secret
from huzhu_verify.sumtree import (
    HASH_SIZE,
    U64_MAX,
    CheckResult,
    InclusionProof,
    LevelFile,
    MalformedInput,
    RootMismatch,
    SumRoot,
    SumTreeBuilder,
    VerificationError,
    VerifiedPath,
    check_tree_id,
    describe_path,
    format_yuan,
    parse_yuan,
    require_fields,
    verify_inclusion,
    write_level_file,
)

__all__ = [
    "FORMAT",
    "Difference",
    "MemberShareCheck",
    "RunHeader",
    "RunFigures",
    "RunReport",
    "SharerRow",
    "check_member_share",
    "file_digest",
    "leaf_index",
    "level_file_from_run",
    "member_line",
    "proof_from_level_file",
    "read_header",
    "recompute",
    "verify_share_document",
    "write_run_file",
]

FORMAT = "huzhu-run-inputs/1"
RunSource = str | os.PathLike[str] | Sequence[str]
_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_MEMBER_NO = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)
_HEADER_FIELDS = {"format", "case_no", "plan", "rule", "benefit", "cap", "sharers", "level", "leftover",
                  "limited_by_balance", "paying", "collected", "shortfall", "root"}


# ---------------------------------------------------------------- header and rows


@dataclass(frozen=True)
class RunHeader:
    """The first line of a run file: the case, its parameters, the operator's figures and root."""

    case_no: str
    plan: str
    rule: int
    benefit: int
    cap: int
    sharers: int
    level: int
    leftover: int
    limited_by_balance: int
    paying: int
    collected: int
    shortfall: int
    root: SumRoot

    def to_line(self) -> str:
        data = {
            "format": FORMAT, "case_no": self.case_no, "plan": self.plan, "rule": self.rule,
            "benefit": format_yuan(self.benefit), "cap": format_yuan(self.cap), "sharers": self.sharers,
            "level": format_yuan(self.level), "leftover": self.leftover,
            "limited_by_balance": self.limited_by_balance, "paying": self.paying,
            "collected": format_yuan(self.collected), "shortfall": format_yuan(self.shortfall),
            "root": self.root.to_json(),
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"

    @classmethod
    def from_line(cls, line: str) -> RunHeader:
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise MalformedInput(f"line 1: the header is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise MalformedInput("line 1: the header must be a JSON object")
        if data.get("format") != FORMAT:
            raise MalformedInput(f"line 1: format {data.get('format')!r} is not {FORMAT!r}")
        missing, extra = _HEADER_FIELDS - set(data), set(data) - _HEADER_FIELDS
        if missing or extra:
            raise MalformedInput(f"line 1: header fields missing {sorted(missing)}, unknown {sorted(extra)}")
        counts = {}
        for name in ("rule", "sharers", "leftover", "limited_by_balance", "paying"):
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise MalformedInput(f"line 1: {name} must be a whole number ≥ 0, not {value!r}")
            counts[name] = value
        if not isinstance(data["plan"], str) or not data["plan"]:
            raise MalformedInput("line 1: plan must be the plan code")
        check_tree_id(data["case_no"])
        return cls(
            case_no=data["case_no"], plan=data["plan"], rule=counts["rule"],
            benefit=parse_yuan(data["benefit"], what="line 1: benefit"),
            cap=parse_yuan(data["cap"], what="line 1: cap"), sharers=counts["sharers"],
            level=parse_yuan(data["level"], what="line 1: level"), leftover=counts["leftover"],
            limited_by_balance=counts["limited_by_balance"], paying=counts["paying"],
            collected=parse_yuan(data["collected"], what="line 1: collected"),
            shortfall=parse_yuan(data["shortfall"], what="line 1: shortfall"),
            root=SumRoot.from_json(data["root"]),
        )


@dataclass(frozen=True)
class SharerRow:
    """One sharer as the server publishes it: key (pseudonym bytes, or member number under rule 1)."""

    key: bytes | int
    capacity: int
    share: int
    leaf_hash: bytes | None

    def to_line(self) -> str:
        key = self.key.hex() if isinstance(self.key, bytes) else str(self.key)
        leaf = "-" if self.leaf_hash is None else self.leaf_hash.hex()
        return f"{key}\t{format_yuan(self.capacity)}\t{format_yuan(self.share)}\t{leaf}\n"


def _parse_row(text: str, lineno: int, rule: LeftoverRule) -> SharerRow:
    if text.endswith("\n"):
        text = text[:-1]
    fields = text.split("\t")
    if len(fields) != 4:
        raise MalformedInput(f"line {lineno}: expected 4 TAB-separated fields (key, capacity, share, leaf), "
                             f"found {len(fields)}")
    key_text, capacity_text, share_text, leaf_text = fields
    key: bytes | int
    if rule.key == "pseudonym":
        if _HEX64.fullmatch(key_text) is None:
            raise MalformedInput(f"line {lineno}: pseudonym {key_text!r} is not 64 lowercase hex digits")
        key = bytes.fromhex(key_text)
    else:
        if _MEMBER_NO.fullmatch(key_text) is None:
            raise MalformedInput(f"line {lineno}: member number {key_text!r} is not a positive whole number")
        key = int(key_text)
    capacity = parse_yuan(capacity_text, what=f"line {lineno}: capacity")
    share = parse_yuan(share_text, what=f"line {lineno}: share")
    if leaf_text == "-":
        leaf = None
    elif _HEX64.fullmatch(leaf_text) is not None:
        leaf = bytes.fromhex(leaf_text)
    else:
        raise MalformedInput(f"line {lineno}: leaf {leaf_text!r} is neither 64 lowercase hex digits nor '-'")
    return SharerRow(key=key, capacity=capacity, share=share, leaf_hash=leaf)


def _lines(source: RunSource) -> Iterator[str]:
    if isinstance(source, str | os.PathLike):
        with open(source, encoding="utf-8", newline="") as fh:
            yield from fh
    else:
        yield from source


def _feeding(lines: Iterator[str], digest: Any) -> Iterator[str]:
    for text in lines:
        digest.update(text.encode("utf-8"))
        yield text


def read_header(source: RunSource) -> RunHeader:
    for line in _lines(source):
        return RunHeader.from_line(line)
    raise MalformedInput("the run file is empty")


_AMOUNT = r"(0|[1-9][0-9]{0,17})\.([0-9]{2})"
_FAST = {
    "pseudonym": re.compile(rf"([0-9a-f]{{64}})\t{_AMOUNT}\t{_AMOUNT}\t([0-9a-f]{{64}}|-)\n?", re.ASCII),
    "member_number": re.compile(rf"([1-9][0-9]{{0,18}})\t{_AMOUNT}\t{_AMOUNT}\t([0-9a-f]{{64}}|-)\n?", re.ASCII),
}
_Line = tuple[str | int, int, int, str]
"""A parsed sharer line: key (rule 2: the pseudonym's hex, which orders like its bytes; rule 1: the
member number), capacity, share, leaf (hex or "-")."""


def _scan(source: RunSource, rule: LeftoverRule, digest: Any = None) -> Iterator[tuple[int, _Line | MalformedInput]]:
    """Sharer lines numbered as in the file, parsed by one regular expression (the detailed parser
    runs only on a line that does not match, to say what is wrong with it). ``digest`` (a hashlib
    object) is fed every line's bytes, header included, so the caller gets the file's SHA-256."""
    lines = _lines(source)
    first = next(lines, None)
    if digest is not None:
        lines = _feeding(lines, digest)
        if first is not None:
            digest.update(first.encode("utf-8"))
    fast = _FAST[rule.key].fullmatch
    by_number = rule.key == "member_number"
    for lineno, text in enumerate(lines, start=2):
        match = fast(text)
        if match is not None:
            key, cw, cf, sw, sf, leaf = match.groups()
            capacity, share = int(cw) * 100 + int(cf), int(sw) * 100 + int(sf)
            if capacity <= U64_MAX and share <= U64_MAX:
                yield lineno, (int(key) if by_number else key, capacity, share, leaf)
                continue
        try:
            _parse_row(text, lineno, rule)
            message = f"line {lineno}: not a sharer line"
        except VerificationError as exc:
            message = str(exc)
        yield lineno, MalformedInput(message)


def _rows(source: RunSource, rule: LeftoverRule) -> Iterator[tuple[int, SharerRow | MalformedInput]]:
    """Sharer lines as :class:`SharerRow` (or the parse error), numbered as in the file."""
    for lineno, line in _scan(source, rule):
        if isinstance(line, MalformedInput):
            yield lineno, line
            continue
        key, capacity, share, leaf = line
        yield lineno, SharerRow(key=bytes.fromhex(key) if isinstance(key, str) else key, capacity=capacity,
                                share=share, leaf_hash=None if leaf == "-" else bytes.fromhex(leaf))


def _describe_key(key: bytes | str | int) -> str:
    if isinstance(key, int):
        return f"member {key}"
    return f"pseudonym {(key.hex() if isinstance(key, bytes) else key)[:16]}…"


# ---------------------------------------------------------------- writing (server side)


class RunFigures(Protocol):
    """The server's figures for a case: ``huzhu.apportionment.shares.Allocation`` has them, as does
    ``leftover.Allocation``."""

    level: int
    leftover: int
    limited_by_balance: int
    paying_members: int
    collected: int
    shortfall: int


def write_run_file(path: str | os.PathLike[str], *, case_no: str, plan: str, rule: int, benefit: int, cap: int,
                   allocation: RunFigures, rows: Iterable[SharerRow]) -> RunHeader:
    """Write the run file from the server's own figures (``allocation``) and rows in key order.

    The writer does not recompute anything: it publishes what the server did, and builds the share
    tree over the rows' ``(leaf, share)``; ``recompute`` is what checks. Streaming: the rows go to a
    side file while the tree is built, then the header and the rows are joined into ``path``.
    Refuses rows that cannot be published (a share ≥ 0.01 without a leaf or a zero share with one).
    """
    rule_by_version(rule)
    check_tree_id(case_no)
    target = Path(path)
    body = target.with_name(target.name + ".rows")
    builder = SumTreeBuilder("share", case_no)
    sharers = 0
    try:
        with open(body, "w", encoding="utf-8", newline="") as out:
            for row in rows:
                if (row.leaf_hash is None) != (row.share == 0):
                    raise MalformedInput(f"sharer {_describe_key(row.key)}: a leaf hash goes with a share ≥ 0.01, "
                                         "and only with one")
                if row.leaf_hash is not None:
                    builder.add(row.leaf_hash, row.share)
                out.write(row.to_line())
                sharers += 1
        header = RunHeader(
            case_no=case_no, plan=plan, rule=rule, benefit=benefit, cap=cap, sharers=sharers,
            level=allocation.level, leftover=allocation.leftover,
            limited_by_balance=allocation.limited_by_balance, paying=allocation.paying_members,
            collected=allocation.collected, shortfall=allocation.shortfall, root=builder.root(),
        )
        with open(target, "w", encoding="utf-8", newline="") as out, open(body, encoding="utf-8", newline="") as rows_in:
            out.write(header.to_line())
            shutil.copyfileobj(rows_in, out, 1 << 20)
        return header
    finally:
        body.unlink(missing_ok=True)


def file_digest(path: str | os.PathLike[str]) -> bytes:
    """SHA-256 of the run file's bytes: what the public log records so the file cannot change later."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def level_file_from_run(source: RunSource, level_path: str | os.PathLike[str]) -> SumRoot:
    """Store the run's share tree as a level file (proofs in a few reads); one pass over the file."""
    header = read_header(source)
    rule = rule_by_version(header.rule)

    def leaves() -> Iterator[tuple[bytes, int]]:
        for _lineno, line in _scan(source, rule):
            if isinstance(line, MalformedInput):
                raise line
            if line[3] != "-":
                yield bytes.fromhex(line[3]), line[2]

    return write_level_file(level_path, "share", header.case_no, header.root.count, leaves())


# ---------------------------------------------------------------- recomputation (anyone)


@dataclass(frozen=True)
class Difference:
    """One thing that does not check out: where, what the rules give, what the file says."""

    line: int | None  # 1 is the header; None for totals over the whole file
    field: str
    expected: str
    published: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: {self.field}: expected {self.expected}, published {self.published} — {self.message}"


@dataclass
class RunReport:
    """Result of :func:`recompute`: the recomputed figures and every difference found."""

    case_no: str | None = None
    rule: int | None = None
    lines: int = 0
    computed: Allocation | None = None
    root: SumRoot | None = None
    published_root: SumRoot | None = None
    file_digest: bytes | None = None
    differences: list[Difference] = field(default_factory=list)
    omitted: int = 0  # differences beyond ``max_differences``, counted but not kept
    max_differences: int = 1000

    @property
    def ok(self) -> bool:
        return not self.differences and self.omitted == 0

    def add(self, line: int | None, field_: str, expected: object, published: object, message: str) -> None:
        if len(self.differences) < self.max_differences:
            self.differences.append(Difference(line, field_, str(expected), str(published), message))
        else:
            self.omitted += 1

    def summary(self) -> str:
        head = f"case {self.case_no}, rule {self.rule}, {self.lines} sharer lines"
        if self.ok:
            c, r = self.computed, self.root
            assert c is not None and r is not None
            return (f"{head}: OK — level {format_yuan(c.level)}, {c.leftover} pay one fen more, collected "
                    f"{format_yuan(c.collected)}, shortfall {format_yuan(c.shortfall)}, root {r.digest.hex()} "
                    f"over {r.count} leaves summing {format_yuan(r.sum)}")
        more = f" (and {self.omitted} more)" if self.omitted else ""
        listing = "\n".join(f"  {d}" for d in self.differences)
        return f"{head}: {len(self.differences) + self.omitted} differences{more}\n{listing}"


@dataclass
class _Census:
    """What the first pass learns: capacities per side of the pivot, order, bad lines."""

    histogram: dict[int, int] = field(default_factory=dict)
    from_pivot: dict[int, int] = field(default_factory=dict)
    bad_lines: set[int] = field(default_factory=set)
    lines: int = 0
    highest_key: str | int | None = None


def _census(source: RunSource, header: RunHeader, rule: LeftoverRule, report: RunReport,
            pivot: str | None, digest: Any) -> _Census:
    census = _Census()
    histogram, from_pivot, cap = census.histogram, census.from_pivot, header.cap
    previous_line, previous_key = 0, None
    for lineno, line in _scan(source, rule, digest):
        census.lines += 1
        if isinstance(line, MalformedInput):
            census.bad_lines.add(lineno)
            report.add(lineno, "format", "a sharer line", "malformed", str(line))
            continue
        key, capacity = line[0], line[1]
        if previous_key is not None and key <= previous_key:  # type: ignore[operator]
            expected = f"a key above line {previous_line}'s"
            if key == previous_key:
                report.add(lineno, "key", expected, _describe_key(key),
                           f"line {lineno} repeats the key of line {previous_line}: one member counted twice")
            else:
                report.add(lineno, "key", expected, _describe_key(key),
                           f"lines must be in ascending key order; line {lineno} comes before line {previous_line}")
        if census.highest_key is None or key > census.highest_key:  # type: ignore[operator]
            census.highest_key = key
        previous_line, previous_key = lineno, key
        if capacity > cap:
            report.add(lineno, "capacity", f"at most {format_yuan(cap)}", format_yuan(capacity),
                       f"{_describe_key(key)}: a capacity is min(cap, balance), never above the cap")
        histogram[capacity] = histogram.get(capacity, 0) + 1
        if pivot is not None and key >= pivot:  # type: ignore[operator]
            from_pivot[capacity] = from_pivot.get(capacity, 0) + 1
    return census


def _count_from_pivot(source: RunSource, rule: LeftoverRule, census: _Census, pivot: int) -> None:
    """Rule 1's pivot depends on the highest member number, known only after the first pass."""
    for _lineno, line in _scan(source, rule):
        if not isinstance(line, MalformedInput) and line[0] >= pivot:  # type: ignore[operator]
            census.from_pivot[line[1]] = census.from_pivot.get(line[1], 0) + 1


def _compare_header(header: RunHeader, census: _Census, computed: Allocation, report: RunReport) -> None:
    figures = [
        ("sharers", census.lines, header.sharers, "the header's count of sharers is not the number of lines"),
        ("level", format_yuan(computed.level), format_yuan(header.level),
         "water-filling the published capacities gives another equal share"),
        ("leftover", computed.leftover, header.leftover, "another number of sharers pay one fen more"),
        ("limited_by_balance", computed.limited_by_balance, header.limited_by_balance,
         "another number of sharers pay less than the level because of their balance"),
        ("paying", computed.paying_members, header.paying, "another number of sharers pay at least 0.01"),
        ("collected", format_yuan(computed.collected), format_yuan(header.collected),
         "the capacities raise another amount"),
        ("shortfall", format_yuan(computed.shortfall), format_yuan(header.shortfall),
         "benefit − collected is another amount"),
    ]
    for name, expected, published, message in figures:
        if expected != published:
            report.add(1, name, expected, published, message)


def recompute(source: RunSource, *, expected_root: SumRoot | None = None, expected_digest: bytes | None = None,
              plan_cap: int | None = None, max_differences: int = 1000) -> RunReport:
    """Re-do a case from its run file alone and report every difference (never raises on bad data).

    Two streaming passes (three under rule 1 when there are leftover fen): the capacities'
    histogram, split at the pivot; then every line's share, fen by fen, and the share tree over
    ``(leaf, share)``, compared with the header's root. With ``expected_root`` and ``expected_digest``
    (the root and the file SHA-256 the public log recorded) any changed byte is caught, including a
    capacity changed so little that the outcome stays the same. ``plan_cap`` is the cap the plan
    publishes (the header's is compared with it). Memory is O(cap + log n) plus the set of malformed
    line numbers.
    """
    report = RunReport(max_differences=max_differences)
    try:
        header = read_header(source)
        rule = rule_by_version(header.rule)
    except VerificationError as exc:
        report.add(1, "header", "a valid header", "invalid", str(exc))
        return report
    report.case_no, report.rule, report.published_root = header.case_no, header.rule, header.root
    if expected_root is not None and expected_root != header.root:
        report.add(1, "root", expected_root.digest.hex(), header.root.digest.hex(),
                   "the file's root is not the root the public log recorded for this case")
    if (header.root.kind, header.root.tree_id) != ("share", header.case_no):
        report.add(1, "root", f"share tree {header.case_no}", f"{header.root.kind} tree {header.root.tree_id}",
                   "the root is not this case's share tree")
    if plan_cap is not None and plan_cap != header.cap:
        report.add(1, "cap", format_yuan(plan_cap), format_yuan(header.cap), "the plan publishes another cap per case")
    if header.benefit <= 0:
        report.add(1, "benefit", "more than 0.00", format_yuan(header.benefit), "a case always has a benefit")
        return report

    v2_pivot = pivot_point(header.case_no).hex() if rule.key == "pseudonym" else None
    digest = hashlib.sha256()
    census = _census(source, header, rule, report, v2_pivot, digest)
    report.lines = census.lines
    report.file_digest = digest.digest()
    if expected_digest is not None and expected_digest != report.file_digest:
        report.add(None, "file sha256", expected_digest.hex(), report.file_digest.hex(),
                   "the file is not the one the public log recorded for this case")
    computed = water_fill(census.histogram, header.benefit)
    report.computed = computed
    _compare_header(header, census, computed, report)

    pivot: str | int
    if v2_pivot is not None:
        pivot = v2_pivot
    else:
        highest = census.highest_key if isinstance(census.highest_key, int) else 0
        pivot = member_number_pivot(header.case_no, highest)
        if computed.leftover:
            _count_from_pivot(source, rule, census, pivot)
    level = computed.level
    able_from = sum(n for c, n in census.from_pivot.items() if c > level)
    able_before = sum(n for c, n in census.histogram.items() if c > level) - able_from
    first, wrapped = leftover_split(computed.leftover, able_from, able_before)
    _check_shares(source, header, rule, census, report, pivot=pivot, first=first, wrapped=wrapped)
    return report


def _check_shares(source: RunSource, header: RunHeader, rule: LeftoverRule, census: _Census,
                  report: RunReport, *, pivot: str | int, first: int, wrapped: int) -> None:
    assert report.computed is not None
    level = report.computed.level
    builder = SumTreeBuilder("share", header.case_no)
    rank_from = rank_before = 0
    published_total = 0
    for lineno, line in _scan(source, rule):
        if isinstance(line, MalformedInput):
            continue
        key, capacity, share, leaf = line
        expected = capacity if capacity < level else level
        if capacity > level:
            if key >= pivot:  # type: ignore[operator]
                expected += rank_from < first
                rank_from += 1
            else:
                expected += rank_before < wrapped
                rank_before += 1
        if share != expected:
            who = _describe_key(key)
            if share > capacity:
                why = f"{who} was charged more than they could pay ({format_yuan(capacity)})"
            elif share == expected + 1:
                why = f"{who} pays one fen more than the rule gives (a leftover fen given to the wrong sharer)"
            elif share + 1 == expected:
                why = f"{who} pays one fen less than the rule gives (a leftover fen missing here)"
            else:
                why = f"{who}: the water-filling gives another share"
            report.add(lineno, "share", format_yuan(expected), format_yuan(share), why)
        published_total += share
        if leaf == "-":
            if share:
                report.add(lineno, "leaf", "a leaf hash", "-",
                           f"{_describe_key(key)} pays {format_yuan(share)} but has no leaf")
        elif not share:
            report.add(lineno, "leaf", "-", leaf,
                       f"{_describe_key(key)} pays nothing, so has no leaf (share trees have no zero leaves)")
        else:
            try:
                builder.add(bytes.fromhex(leaf), share)
            except VerificationError as exc:
                report.add(lineno, "share", "a share the tree can hold", format_yuan(share), str(exc))
    root = builder.root()
    report.root = root
    published = header.root
    if published_total != header.collected:
        report.add(None, "collected", format_yuan(published_total), format_yuan(header.collected),
                   "the published shares do not add up to the header's collected amount")
    if root.count != published.count:
        report.add(1, "root.count", root.count, published.count,
                   "the number of leaves in the file is not the count the root commits to")
    if root.count != header.paying:
        report.add(1, "paying", root.count, header.paying, "lines with a leaf vs the header's paying count")
    if root.sum != published.sum:
        report.add(1, "root.sum", format_yuan(root.sum), format_yuan(published.sum),
                   "the leaves' shares do not add up to the sum the root commits to")
    if root.digest != published.digest:
        report.add(1, "root.hash", root.digest.hex(), published.digest.hex(),
                   "the share tree rebuilt from the lines' (leaf, share) has another root")


# ---------------------------------------------------------------- the member's own check


@dataclass(frozen=True)
class MemberShareCheck:
    pseudonym: bytes
    leaf_hash: bytes
    path: VerifiedPath


def check_member_share(*, secret: bytes, case_no: str, amount: int, proof: InclusionProof, root: SumRoot,
                       cap: int | None = None) -> MemberShareCheck:
    """A member's check: their leaf from (secret, case, what they were charged), up the proof to the
    published root. Raises a ``VerificationError`` saying what failed (e.g. charged more than the
    tree holds for them, or a proof for another tree)."""
    if (root.kind, root.tree_id) != ("share", case_no):
        raise RootMismatch(f"the root is for the {root.kind} tree {root.tree_id}, not case {case_no}'s shares")
    derived = TreeDerivation(case_no).leaf("share", secret, amount)
    verified = verify_inclusion(derived.leaf_hash, amount, proof, root, max_leaf=cap)
    return MemberShareCheck(pseudonym=derived.pseudonym, leaf_hash=derived.leaf_hash, path=verified)


def verify_share_document(doc: object) -> CheckResult:
    """The member page's check, same input and answer as ``sumproof.js``'s ``verifyShare``:
    ``{case_no, secret, amount, cap?, proof, root}`` (JSON object or text) → ok / reason / steps."""
    try:
        data = require_fields(json.loads(doc) if isinstance(doc, str) else doc,
                              ("case_no", "secret", "amount", "proof", "root"), "the share document")
        case_no = data["case_no"]
        check_tree_id(case_no)
        secret = parse_secret(data["secret"])
        amount = parse_yuan(data["amount"], what="amount")
        cap = None if data.get("cap") is None else parse_yuan(data["cap"], what="cap")
        proof = InclusionProof.from_json(data["proof"])
        root = SumRoot.from_json(data["root"])
        checked = check_member_share(secret=secret, case_no=case_no, amount=amount, proof=proof, root=root, cap=cap)
    except VerificationError as exc:
        return CheckResult(ok=False, reason=exc.code, message=str(exc), steps=())
    except ValueError as exc:  # JSON text that does not parse
        return CheckResult(ok=False, reason=MalformedInput.code, message=str(exc), steps=())
    steps = (f"your pseudonym for {case_no}: {checked.pseudonym.hex()}", *describe_path(checked.path, proof.index))
    return CheckResult(ok=True, reason=None, message="verified", steps=steps)


def member_line(source: RunSource, *, secret: bytes, case_no: str) -> tuple[int, SharerRow] | None:
    """The member's own line in a run file (line number, row), found by their pseudonym; None if absent."""
    mine = TreeDerivation(case_no).pseudonym(secret)
    header = read_header(source)
    rule = rule_by_version(header.rule)
    if rule.key != "pseudonym":
        raise MalformedInput(f"run files under rule {header.rule} are keyed by member number, not pseudonym")
    for lineno, row in _rows(source, rule):
        if not isinstance(row, VerificationError) and row.key == mine:
            return lineno, row
    return None


def leaf_index(source: RunSource, pseudonym: bytes) -> int | None:
    """Position of the member's leaf among the leaves (the index an inclusion proof needs)."""
    if len(pseudonym) != HASH_SIZE:
        raise MalformedInput("a pseudonym is 32 bytes")
    header = read_header(source)
    rule = rule_by_version(header.rule)
    wanted, index = pseudonym.hex(), 0
    for _lineno, line in _scan(source, rule):
        if isinstance(line, MalformedInput):
            continue
        if line[0] == wanted:
            return index if line[3] != "-" else None
        if line[3] != "-":
            index += 1
    return None


def proof_from_level_file(level_path: str | os.PathLike[str], index: int) -> tuple[InclusionProof, SumRoot]:
    with LevelFile(level_path) as levels:
        return levels.proof(index), levels.root


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m huzhu_verify.runcheck",
                                     description="Recompute a huzhu case apportionment from its published run file.")
    parser.add_argument("run_file", type=Path)
    parser.add_argument("--root", help="the root JSON the public log recorded for the case (compared too)")
    parser.add_argument("--sha256", help="the file's SHA-256 the public log recorded (64 hex digits)")
    args = parser.parse_args(argv)
    expected = SumRoot.from_json(json.loads(args.root)) if args.root else None
    digest = bytes.fromhex(args.sha256) if args.sha256 else None
    report = recompute(args.run_file, expected_root=expected, expected_digest=digest)
    print(report.summary())
    print(f"file sha256 {file_digest(args.run_file).hex()}")
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
