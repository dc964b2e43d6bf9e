"""huzhu_verify is a stand-alone verifier: it imports only the standard library and ``cryptography``.

An auditor installs it without the platform (no database drivers, no web framework), and nothing
of the server can creep into what checks the server. This walks every import statement (module
level and inside functions) of every module in the package.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import huzhu_verify

PACKAGE = Path(huzhu_verify.__file__).resolve().parent
ALLOWED_THIRD_PARTY = {"cryptography"}


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the package
                found.append((node.lineno, "huzhu_verify"))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def test_package_imports_only_stdlib_and_cryptography() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 10
    offending = []
    for path in files:
        for line, module in _imported_modules(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "huzhu_verify":
                continue
            offending.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert offending == []


def test_the_walker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\ndef f():\n    from huzhu.errors import InvalidInput\n    import sqlalchemy\n")
    modules = [m for _, m in _imported_modules(sample)]
    assert modules == ["os", "huzhu.errors", "sqlalchemy"]
