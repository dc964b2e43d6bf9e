"""Schemathesis over the whole API from /openapi.json: no 5xx, responses conform to the schema.

Runs as a logged-in member (the authorisation matrix covers the other roles) against a small
world (members, claims, a case in notice) so that many generated requests reach real rows.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from e2e.helpers import start_server
from e2e.world import build_world
from huzhu.app import create_app

pytestmark = pytest.mark.e2e


MAX_EXAMPLES = 12


def test_api_conforms_to_its_schema(live_platform) -> None:  # noqa: ANN001
    live = start_server(live_platform)
    try:
        token = build_world(live).clients["member"].auth.fetch()  # type: ignore[attr-defined]
    finally:
        live.server.should_exit = True
        live.thread.join(timeout=10)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(live_platform))
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]
    failures: list[str] = []
    operations = 0
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case) -> None:  # noqa: ANN001
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations > 40
    print("schemathesis responses by status:", dict(sorted(statuses.items())))
    assert sum(statuses.values()) > operations * 5
    assert sum(n for code, n in statuses.items() if code < 300) > operations  # not only refusals
    assert not failures, "\n\n".join(failures)
