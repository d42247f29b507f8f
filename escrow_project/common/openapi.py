"""OpenAPI post-processing: every operation documents the problem responses it can answer.

Errors are RFC 9457 problem documents (docs/errors.md) from one handler, so they are described once
here instead of on each view; the fuzz suite (tests/escrow_project/test_api_fuzz.py) holds the
schema to what the API really answers.
"""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details (docs/errors.md).",
    "required": ["type", "title", "status", "detail", "code", "errors", "request_id"],
    "properties": {
        "type": {"type": "string", "example": "urn:escrow-platform:problem:validation_error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "example": "validation_error"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
        "request_id": {"type": "string"},
    },
}

# Any operation may answer these: the request is checked (parsing, authentication, permissions,
# rate limits, body size) before any view-specific rule.
_ERRORS = {
    "400": "Malformed request or invalid fields (`validation_error`, `malformed_request`)",
    "401": "Not authenticated, or the token or signature is not valid",
    "403": "Your role does not allow this",
    "404": "Not found, or not visible to you",
    "405": "Method not allowed",
    "409": "The resource's state does not allow this",
    "413": "The body is larger than the limit (`request_too_large`, `upload_too_large`)",
    "415": "Unsupported media type",
    "422": "Well-formed but refused by a business rule",
    "429": "Rate limited or sign-in paused; see Retry-After",
}


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in _ERRORS.items():
                operation["responses"].setdefault(status, {"description": description, "content": problem})
    return result
