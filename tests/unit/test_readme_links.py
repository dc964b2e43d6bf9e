"""Every relative link in the README points at a file a fresh clone has (nothing above the repository)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_links_resolve_inside_the_clone() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text)
               if not re.match(r"^[a-z]+:", t) and not t.startswith("#")]
    for target in targets:
        resolved = (REPO / target).resolve()
        assert resolved.is_relative_to(REPO), f"README links outside the repository: {target}"
        assert resolved.exists(), f"README links a missing file: {target}"
