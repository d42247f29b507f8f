"""The OpenAPI schema reads as a contract: resources as tags, declared headers, codes, valid examples."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from escrow_project.common.openapi import TAG_DESCRIPTIONS


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]


def _nullable_as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable` becomes JSON Schema's null type; $refs stay (resolved against the document)."""
    if isinstance(node, list):
        return [_nullable_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_as_json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def test_every_operation_sits_under_one_described_resource_tag(schema):
    untagged = [
        (m, p, op.get("tags")) for p, m, op in _operations(schema) if op.get("tags", [None])[0] not in TAG_DESCRIPTIONS
    ]
    assert not untagged
    assert {tag["name"] for tag in schema["tags"]} <= set(TAG_DESCRIPTIONS)
    assert len({op["tags"][0] for _, _, op in _operations(schema)}) >= 15


def test_request_id_on_every_operation_and_idempotency_key_on_every_creating_post(schema):
    for path, method, op in _operations(schema):
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert "X-Request-ID" in headers, (method, path)
    keyed = [
        (p, op)
        for p, m, op in _operations(schema)
        if m == "post" and any(param["name"] == "Idempotency-Key" for param in op.get("parameters", []))
    ]
    keyed_paths = {p for p, _ in keyed}
    for must in (
        "/api/v1/escrow/transactions/",
        "/api/v1/endorsements/",
        "/api/v1/endorsements/batch",
        "/api/v1/ledger/accounts/{public_id}/adjustments/",
        "/api/v1/organizations/{public_id}/api-keys/",
    ):
        assert must in keyed_paths, must


def test_error_responses_use_the_problem_shape_and_name_their_codes(schema):
    for path, method, op in _operations(schema):
        for status, response in op["responses"].items():
            if not status.startswith("4"):
                continue
            assert "application/problem+json" in response.get("content", {}), (method, path, status)
        assert "Codes:" in op["responses"]["404"]["description"]
    ledger_post = schema["paths"]["/api/v1/ledger/accounts/{public_id}/adjustments/"]["post"]
    assert "`insufficient_funds`" in ledger_post["responses"]["409"]["description"]


def test_every_json_body_has_an_example_that_its_schema_accepts(schema):
    document = {"components": {"schemas": _nullable_as_json_schema(schema["components"]["schemas"])}}
    checked = 0
    for path, method, op in _operations(schema):
        bodies = [("request", op.get("requestBody", {}))] + [
            (s, r) for s, r in op["responses"].items() if s.startswith("2")
        ]
        for where, body in bodies:
            for media_type, content in body.get("content", {}).items():
                if "json" not in media_type or "schema" not in content:
                    continue
                assert "example" in content, (method, path, where)
                body_schema = {**_nullable_as_json_schema(content["schema"]), **document}
                jsonschema.Draft7Validator(body_schema).validate(content["example"])
                checked += 1
    assert checked > 80


def test_examples_read_like_real_traffic(schema):
    def leaves(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [leaf for item in value.values() for leaf in leaves(item)]
        if isinstance(value, list):
            return [leaf for item in value for leaf in leaves(item)]
        return [value]

    examples = [
        content["example"]
        for _, _, op in _operations(schema)
        for body in [op.get("requestBody", {}), *op["responses"].values()]
        for content in body.get("content", {}).values()
        if "example" in content
    ]
    values = [leaf for example in examples for leaf in leaves(example)]
    assert len(values) > 500
    assert not {"str", "string"} & {value for value in values if isinstance(value, str)}
    transaction = schema["paths"]["/api/v1/escrow/transactions/"]["post"]["requestBody"]["content"]["application/json"]
    example = transaction["example"]
    assert example["currency"] == "USD"
    assert re.fullmatch(r"\d+\.\d{2}", example["purchase_price"])


def test_the_endorsement_request_body_is_the_submission_not_the_response(schema):
    body = schema["paths"]["/api/v1/endorsements/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"policy_number", "kind", "member_id", "effective_date", "employee_member_id"} <= set(body["properties"])
    assert "tracking_id" not in body["properties"]
    batch = schema["paths"]["/api/v1/endorsements/batch"]["post"]
    assert "employee_member_id" in batch["description"]
    assert "CSV" in batch["description"]
