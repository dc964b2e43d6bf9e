"""Load plan files (TOML) into validated ``Plan`` models, with errors that name file and field."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from huzhu.errors import DomainError, InvalidInput
from huzhu.plans.errors import PlanError
from huzhu.plans.schemas import Plan


class PlanFileError(InvalidInput):
    """A plan file is unreadable or breaks a rule. ``path`` and ``field`` say where; ``problem`` is
    the validator's own (English) words."""

    def __init__(self, path: str | Path, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(PlanError.FILE, where=where, problem=problem, details={"path": self.path, "field": field})


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"fixed", "disability_grade", "age_banded", "driving_liability"}:
            continue  # discriminator tag pydantic adds for union members
        else:
            out += f".{part}" if out else str(part)
    return out or "(plan)"


_LEADING_FIELD = re.compile(r"^([a-z_][a-z0-9_.\[\]]*): (.*)$", re.DOTALL)


def _describe(err: Any) -> tuple[str, str]:
    """(field path, problem) for one pydantic error; a model check's message may name the field first."""
    field = _loc(err["loc"])
    if err["type"] == "extra_forbidden":
        return field, "unknown field"
    if err["type"] == "missing":
        return field, "required field is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    match = _LEADING_FIELD.match(msg)
    if err["type"] == "value_error" and match:
        sub, msg = match.groups()
        field = sub if field == "(plan)" else f"{field}.{sub}"
    return field, msg


def load_plan(path: str | Path) -> Plan:
    """Read and validate one plan file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlanFileError(path, "", f"cannot read the file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PlanFileError(path, "", "file is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PlanFileError(path, "", f"not valid TOML: {exc}") from exc
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        described = [_describe(e) for e in exc.errors(include_url=False)]
        field, problem = described[0]
        if len(described) > 1:
            rest = "; ".join(f"{f}: {p}" for f, p in described[1:])
            problem += f" (also: {rest})"
        raise PlanFileError(path, field, problem) from exc
    except DomainError as exc:  # pragma: no cover - parse_yuan errors surface as ValidationError
        raise PlanFileError(path, "", exc.message) from exc


def load_plans(directory: str | Path) -> dict[str, Plan]:
    """Load every ``*.toml`` in ``directory`` (sorted by name), keyed by plan code."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PlanFileError(directory, "", "plan directory does not exist")
    plans: dict[str, Plan] = {}
    origin: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        plan = load_plan(path)
        if plan.code in plans:
            raise PlanFileError(
                path, "code", f"duplicate plan code {plan.code!r}, also used in {origin[plan.code]}"
            )
        plans[plan.code] = plan
        origin[plan.code] = path
    return plans


def canonical_json(plan: Plan) -> str:
    """The plan as canonical JSON: sorted keys, no spaces, UTF-8 text, amounts in fen."""
    return json.dumps(plan.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plan_digest(plan: Plan) -> str:
    """sha256 hex digest of the canonical JSON: identifies the exact rules a decision used."""
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()
