"""Outbound webhooks in the OpenAPI document (`x-webhooks`, which Redoc and Swagger tools read on 3.0).

Built from the notification kinds registry and the one payload builder, so the document lists
exactly the events an endpoint can receive, with the Standard Webhooks headers that sign them.
"""

from __future__ import annotations

from typing import Any

from notifications.kinds import KINDS

_HEADERS = {
    "webhook-id": "The message id: the same on every retry; drop a message whose id you have seen.",
    "webhook-timestamp": "Unix seconds when this attempt was signed; refuse one more than 5 minutes away.",
    "webhook-signature": "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}`, one per active "
    "secret (space-separated) while a rotation's grace period runs.",
    "idempotency-key": "The same value as webhook-id, for receivers that dedupe on this header.",
}


def _event_schema(kind: str, required: frozenset[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "enum": [kind]},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "description": "The event's facts; these keys are always present, others may be added.",
                "required": sorted(required),
                "properties": {name: {"type": "string"} for name in sorted(required)},
            },
            "subject": {
                "type": "object",
                "description": "What the event is about (an escrow transaction, an endorsement request...).",
                "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
            },
        },
    }


def add_outbound_webhooks(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    parameters = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
        for name, text in _HEADERS.items()
    ]
    result["x-webhooks"] = {
        kind: {
            "post": {
                "summary": spec.description,
                "description": "Sent to every active endpoint of the organization subscribed to this kind. Answer "
                "2xx within 10 s; anything else is retried with backoff. docs/integration/webhooks.md shows how "
                "to verify the signature.",
                "tags": ["Outbound webhooks"],
                "parameters": parameters,
                "requestBody": {"content": {"application/json": {"schema": _event_schema(kind, spec.required)}}},
                "responses": {"200": {"description": "Received (any 2xx)."}},
            }
        }
        for kind, spec in sorted(KINDS.items())
        if "webhook" in spec.default_channels
    }
    return result
