"""Only the ledger writes the ledger's tables.

``ledger_transfers``, ``ledger_entries`` and ``ledger_accounts`` keep the books' invariants (balanced
transfers, running totals equal to the entries, append-only), so every write goes through
``huzhu.ledger`` (``post_transfer``, ``resolve_pending``, ``open_account``, ``ledger.bulk``). This scans
every module under ``src/huzhu`` outside ``ledger/`` (and the schema migrations) for a write:

- SQL text that inserts into, updates, deletes from, copies into, truncates, locks or alters a
  ledger table, or a ledger table's bare name handed to a helper (``bulk_insert(s, "ledger_entries", …)``);
- a ledger model constructed (``Transfer(…)``, ``Entry(…)``, ``LedgerAccount(…)``) or given to
  ``insert``/``update``/``delete``, however it was imported;
- an assignment to a ledger-only column (running totals, a transfer's entry count or content hash).

Reading the tables (joins, reports, proofs) stays allowed everywhere.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "huzhu"
OWNER = SRC / "ledger"
SCHEMA = SRC / "migrations"
MODEL_MODULES = {"huzhu.ledger.models", "huzhu.models"}
MODELS = {"Transfer", "Entry", "LedgerAccount"}
TABLES = r"ledger_(?:transfers|entries|accounts)"
WRITE_SQL = re.compile(
    rf"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|COPY|TRUNCATE(?:\s+TABLE)?|LOCK\s+TABLE|"
    rf"ALTER\s+TABLE|DROP\s+TABLE)\s+(?:ONLY\s+)?\"?{TABLES}\b",
    re.IGNORECASE,
)
BARE_TABLE = re.compile(rf"^{TABLES}$")
LEDGER_ONLY_COLUMNS = {"debits_posted", "credits_posted", "debits_pending", "credits_pending", "entry_count",
                       "content_hash"}
DML = {"insert", "update", "delete"}


def _string_text(node: ast.AST) -> str | None:
    """The text of a string literal; an f-string's literal parts with ``{}`` for each value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _model_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names bound to the ledger models, and names bound to a module that holds them."""
    names, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in MODEL_MODULES:
            names |= {a.asname or a.name for a in node.names if a.name in MODELS}
        elif isinstance(node, ast.ImportFrom) and node.module in {"huzhu.ledger", "huzhu"}:
            modules |= {a.asname or a.name for a in node.names if a.name == "models"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name in MODEL_MODULES and a.asname}
    return names, modules


def _is_model(node: ast.AST, names: set[str], modules: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute) and node.attr in MODELS:
        base = node.value
        dotted = ast.unparse(base)
        return dotted in modules or dotted in MODEL_MODULES
    return False


def _called_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def ledger_writes(source: str, filename: str = "<source>") -> list[str]:
    """Every write to a ledger table in ``source``, as "line: what"."""
    tree = ast.parse(source, filename)
    names, modules = _model_names(tree)
    found = []
    for node in ast.walk(tree):
        text = _string_text(node)
        if text is not None and (WRITE_SQL.search(text) or BARE_TABLE.match(text)):
            found.append(f"{node.lineno}: SQL {' '.join(text.split())[:80]!r}")
        if isinstance(node, ast.Call):
            if _is_model(node.func, names, modules):
                found.append(f"{node.lineno}: {ast.unparse(node.func)}(…)")
            elif _called_name(node) in DML and node.args and _is_model(node.args[0], names, modules):
                found.append(f"{node.lineno}: {_called_name(node)}({ast.unparse(node.args[0])})")
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign | ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr in LEDGER_ONLY_COLUMNS:
                found.append(f"{node.lineno}: assigns {ast.unparse(target)}")
    return sorted(set(found), key=lambda f: int(f.split(":")[0]))


def test_no_package_but_the_ledger_writes_ledger_tables() -> None:
    modules = [p for p in SRC.rglob("*.py") if OWNER not in p.parents and SCHEMA not in p.parents]
    assert len(modules) > 40  # the scan sees the whole source tree
    offenders = {
        str(path.relative_to(SRC)): writes
        for path in modules
        if (writes := ledger_writes(path.read_text(encoding="utf-8"), str(path)))
    }
    assert offenders == {}, "write the ledger through huzhu.ledger (post_transfer, ledger.bulk):\n" + "\n".join(
        f"  {module} line {write}" for module, found in offenders.items() for write in found)


def test_the_scan_recognises_each_kind_of_write() -> None:
    """The guard above is only as good as its patterns: each of these must be caught."""
    writes = {
        'session.execute(text("INSERT INTO ledger_entries (transfer_id) SELECT 1"))': "SQL",
        'sql = f"""\n  update  ledger_accounts SET debits_posted = debits_posted + {amount}"""': "SQL",
        'session.execute(text("DELETE FROM ledger_transfers WHERE id = :id"))': "SQL",
        'bulk_insert(session, "ledger_accounts", COLUMNS, rows)': "SQL",
        'f"COPY ledger_entries ({columns}) FROM STDIN"': "SQL",
        "from huzhu.ledger.models import Entry\nsession.add(Entry(transfer_id=1))": "Entry(",
        "from huzhu.models import Transfer as T\nT(idempotency_key='k')": "T(",
        "from huzhu.ledger import models\nmodels.LedgerAccount(kind='x')": "models.LedgerAccount(",
        "import huzhu.ledger.models as lm\nsession.execute(update(lm.LedgerAccount).values(code='x'))": "update(",
        "from huzhu.ledger.models import Transfer\nsa.delete(Transfer)": "delete(Transfer)",
        "transfer.entry_count = 3": "assigns",
        "account.credits_posted += 100": "assigns",
    }
    for source, what in writes.items():
        found = ledger_writes(source)
        assert any(what in f for f in found), (source, found)
    reads = [
        'text("SELECT e.amount FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id")',
        'text("UPDATE enrollments AS e SET status = :s FROM ledger_accounts a WHERE a.id = e.ledger_account_id")',
        "from huzhu.ledger.models import Transfer\nsession.scalar(select(Transfer).where(Transfer.id == 1))",
        "ForeignKey('ledger_transfers.id')",
        "class Entry: ...\nEntry()",  # not the ledger's Entry
        "balance = account.credits_posted - account.debits_posted",
    ]
    for source in reads:
        assert ledger_writes(source) == [], source
