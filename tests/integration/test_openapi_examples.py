"""Every example in the API's OpenAPI document is a valid request or response: it matches its own
schema (patterns, lengths, enums, required fields), and the values the schema cannot check are
checked by the domain itself (a resident ID number's check character, a bank account's digits).
A reader who copies an example from /docs gets a request the API accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs

from huzhu.app import create_app
from huzhu.identity import parse_resident_id
from huzhu.platform import Platform


def _examples(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, the schema, one example of it) for every schema in the document that has examples."""
    if isinstance(node, dict):
        if "examples" in node and isinstance(node["examples"], list) and ("type" in node or "properties" in node
                                                                         or "$ref" in node or "anyOf" in node):
            for n, example in enumerate(node["examples"]):
                yield f"{path}.examples[{n}]", node, example
        if "example" in node and ("type" in node or "properties" in node):
            yield f"{path}.example", node, node["example"]
        for key, value in node.items():
            if key not in ("examples", "example"):
                yield from _examples(value, f"{path}.{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _examples(value, f"{path}[{n}]")


def _values(example: Any, key: str) -> Iterator[Any]:
    if isinstance(example, dict):
        for k, v in example.items():
            if k == key:
                yield v
            yield from _values(v, key)
    elif isinstance(example, list):
        for v in example:
            yield from _values(v, key)


def test_every_openapi_example_validates(platform: Platform) -> None:
    document = create_app(platform).openapi()
    document = json.loads(json.dumps(document))  # plain JSON, as /openapi.json serves it
    found = list(_examples(document.get("components", {}), "components"))
    found += list(_examples(document.get("paths", {}), "paths"))
    assert len(found) >= 20, "the document has fewer examples than expected: is the walk still finding them?"
    wrong = []
    for where, schema, example in found:
        rooted = {**schema, "components": document.get("components", {})}
        validator = jsonschema_rs.validator_for(rooted)
        errors = [e.message for e in validator.iter_errors(example)]
        if errors:
            wrong.append(f"{where}: {example!r}: {errors}")
    assert wrong == []
    id_numbers = [v for _, _, example in found for v in _values(example, "id_number")]
    assert id_numbers, "no example carries an ID number any more"
    for number in id_numbers:
        parse_resident_id(number)  # the check character too, which no JSON schema can say
    for account in (v for _, _, example in found for v in _values(example, "bank_account")):
        assert account.isdigit() and 12 <= len(account) <= 19


def test_the_old_example_id_number_was_wrong() -> None:
    """450321199006151228 fails its own check character (it must end in 5): the reason for this test."""
    import pytest

    from huzhu.errors import InvalidInput

    with pytest.raises(InvalidInput):
        parse_resident_id("450321199006151228")
    assert parse_resident_id("450321199006151225").birth_date.isoformat() == "1990-06-15"
