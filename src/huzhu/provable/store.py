"""Where the published trees live on disk, and the leaf-index lookup by pseudonym.

Per tree, under ``<data_dir>/provable/<kind>/``: the level file (``sumtree.write_level_file``: every
node, so a proof is ⌈log2 n⌉ reads of 40 bytes), a keys file (the leaves' pseudonyms in leaf order,
32 bytes each, so a member's leaf index is a binary search of ~20 reads) and, for a case, the run
file (``runcheck``: the published inputs). The database holds the root (``SumTree``) and the public
log holds the root, sum, count and the run file's SHA-256, so a changed file is detected.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.orm import Session

from huzhu_verify.sumtree import HASH_SIZE

PROOF_DIR_KEY = "provable_dir"
RULE_V2_FROM_KEY = "leftover_rule_v2_from"
DEFAULT_DIR = Path("data") / "provable"


def proof_dir(session: Session) -> Path:
    return Path(session.info.get(PROOF_DIR_KEY) or DEFAULT_DIR)


def tree_paths(session: Session, kind: str, tree_id: str) -> dict[str, Path]:
    folder = proof_dir(session) / kind
    folder.mkdir(parents=True, exist_ok=True)
    return {"levels": folder / f"{tree_id}.levels", "keys": folder / f"{tree_id}.keys",
            "inputs": folder / f"{tree_id}.tsv"}


def find_leaf_index(path: Path, pseudonym: bytes) -> int | None:
    """Binary search of a keys file (strictly ascending pseudonyms) for ``pseudonym``."""
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        low, high = 0, os.fstat(fd).st_size // HASH_SIZE
        while low < high:
            mid = (low + high) // 2
            key = os.pread(fd, HASH_SIZE, mid * HASH_SIZE)
            if key == pseudonym:
                return mid
            if key < pseudonym:
                low = mid + 1
            else:
                high = mid
        return None
    finally:
        os.close(fd)


def provable_info(settings: object) -> dict[str, object]:
    """What every session of the platform carries for the trees: where they are stored and from which
    business date rule 2 applies (``Settings.leftover_rule_v2_from``)."""
    data_dir = Path(getattr(settings, "data_dir", Path("data")))
    return {PROOF_DIR_KEY: data_dir / "provable", RULE_V2_FROM_KEY: getattr(settings, "leftover_rule_v2_from", None)}
