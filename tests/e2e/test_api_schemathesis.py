"""Schemathesis over the whole API from /openapi.json: no 5xx, responses conform to the schema.

Runs as a logged-in member and as an admin against a small world (members, claims, a case in
notice) so that many generated requests reach real rows. Each operation gets a fresh session
(minted by the service, not by logging in: the generated logins make the client address back off),
so an operation that ends sessions — logout, log out everywhere — ends only its own.
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
from huzhu.http.login import start_api_session

pytestmark = pytest.mark.e2e


MAX_EXAMPLES = 12


@pytest.mark.parametrize("role", ["member", "admin"])
def test_api_conforms_to_its_schema(live_platform, role: str) -> None:  # noqa: ANN001
    live = start_server(live_platform)
    try:
        account_id = build_world(live).clients[role].get("/me").json()["id"]
    finally:
        live.server.should_exit = True
        live.thread.join(timeout=10)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(live_platform))
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]
    failures: list[str] = []
    operations = 0
    statuses: dict[int, int] = {}
    session: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        session["token"] = start_api_session(live_platform, account_id).access_token

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case) -> None:  # noqa: ANN001
            response = case.call_and_validate(headers={"Authorization": f"Bearer {session['token']}"}, checks=checks)
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


MONEY_MOVING = [("post", "/api/v1/members/{member_id}/top-ups"), ("post", "/api/v1/members/{member_id}/withdrawals"),
                ("post", "/api/v1/members/{member_id}/enrollments"), ("post", "/api/v1/enrollments/{enrollment_id}/leave"),
                ("post", "/api/v1/runs")]


def _strings_without_rule(spec: dict) -> list[str]:
    """Every request string (body, path, query) the schema leaves unconstrained: it must state the
    control-character rule (a pattern), or be an enum, a format or a file."""
    components = spec["components"]["schemas"]
    found: list[str] = []

    def walk(schema: dict, where: str, seen: set[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                walk(components[name], name, seen | {name})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key, []):
                walk(sub, where, seen)
        if schema.get("type") == "string" and not ({"pattern", "enum", "format", "const", "contentMediaType"}
                                                    & schema.keys()):
            found.append(where)
        for name, prop in schema.get("properties", {}).items():
            walk(prop, f"{where}.{name}", seen)
        for key in ("items", "additionalProperties", "propertyNames"):
            if isinstance(schema.get(key), dict):
                walk(schema[key], f"{where}.{key}", seen)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {path} {parameter['in']}.{parameter['name']}", set())
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                walk(content["schema"], f"{method} {path} {media}", set())
    return found


def test_the_schema_states_every_rule_the_server_enforces(live_platform) -> None:  # noqa: ANN001
    from huzhu.accounts.passwords import PASSWORD_PATTERN
    from huzhu.http.text import FREE_TEXT_PATTERN, LINE_PATTERN

    spec = create_app(live_platform).openapi()
    assert _strings_without_rule(spec) == []
    schemas = spec["components"]["schemas"]
    password = schemas["AccountCreate"]["properties"]["password"]
    assert (password["pattern"], password["minLength"], password["maxLength"]) == (PASSWORD_PATTERN, 8, 128)
    assert schemas["AccountCreate"]["required"] == ["login", "password", "display_name"]
    assert schemas["ClaimCreate"]["properties"]["description"]["pattern"] == FREE_TEXT_PATTERN
    assert schemas["ClaimCreate"]["properties"]["beneficiary_name"]["pattern"] == LINE_PATTERN
    for method, path in MONEY_MOVING:
        header = next(p for p in spec["paths"][path][method]["parameters"] if p["name"] == "Idempotency-Key")
        assert header["in"] == "header" and header["required"] is True and header["schema"]["pattern"]
        assert "400" in spec["paths"][path][method]["responses"]  # two keys
    limits = live_platform.settings
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert operation["x-max-body-bytes"] >= limits.max_body_bytes and "413" in operation["responses"], \
                    (method, path)
    upload = spec["paths"]["/api/v1/claims/{claim_id}/evidence"]["post"]
    assert upload["x-max-body-bytes"] == limits.max_upload_bytes + limits.max_body_bytes
    media = upload["requestBody"]["content"]["multipart/form-data"]
    assert media["encoding"]["file"]["contentType"] == "application/pdf, image/jpeg, image/png"
    form = schemas[media["schema"]["$ref"].rsplit("/", 1)[1]]
    assert form["properties"]["file"]["x-max-bytes"] == limits.max_upload_bytes
    assert "PDF, JPEG or PNG" in form["properties"]["file"]["description"]
