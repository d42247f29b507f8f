"""The OpenAPI schema as the partner's contract: tags per resource, headers, error codes, examples.

Errors are RFC 9457 problem documents (docs/errors.md) from one handler, so they are described here
once: every operation lists, per status, the codes its app and the kernel can answer (from the
error-code registry). Examples are generated from the schemas with realistic values (amounts as
decimal strings, ISO dates, currency codes) where a view gives none; the fuzz suite
(tests/escrow_project/test_api_fuzz.py) holds the schema to what the API really answers.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from escrow_project.common.error_codes import codes_by_status

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details (docs/errors.md).",
    "required": ["type", "title", "status", "detail", "code", "errors", "request_id"],
    "properties": {
        "type": {"type": "string", "example": "urn:escrow-platform:problem:validation_error"},
        "title": {"type": "string", "example": "The request is invalid"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string", "example": "Invalid fields: amount."},
        "code": {"type": "string", "example": "validation_error"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "nullable": True, "example": "amount"},
                    "code": {"type": "string", "example": "too_many_decimals"},
                    "message": {"type": "string", "example": "USD amounts have at most 2 decimals."},
                },
            },
        },
        "request_id": {"type": "string", "example": "6f1c0f5e-3d0e-4a4e-9a53-2b8f6c1d7e21"},
    },
}

# What each status means whatever the operation; the codes that say which case follow it.
_STATUS_MEANING = {
    400: "Malformed request or invalid fields",
    401: "Not authenticated, or the token, API key or signature is not valid",
    403: "Your role (or API key scope) does not allow this",
    404: "Not found, or not visible to you",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "The resource's state does not allow this",
    413: "The body is larger than the limit",
    415: "Unsupported media type",
    422: "Well-formed but refused by a business rule",
    429: "Rate limited or sign-in paused; see Retry-After",
    500: "A bug; nothing was changed; quote request_id",
}

# (path pattern under /api/v1/, tag): the first match names the operation's resource.
TAGS: list[tuple[str, str]] = [
    (r"^auth/", "Authentication"),
    (r"^me/", "Organizations"),
    (r"api-keys/", "API keys"),
    (r"^organizations/", "Organizations"),
    (r"audit", "Audit"),
    (r"^escrow/transactions/[^/]+/settlement/", "Settlement"),
    (r"^escrow/transactions/[^/]+/(payments-in|deposits|manual-deposits)/", "Escrow funding"),
    (r"disputes/", "Disputes"),
    (r"^escrow/agents/", "Inbound webhooks"),
    (r"verifications/", "Verifications"),
    (r"(^escrow/controls/|/pause/)", "Payout controls"),
    (r"^escrow/payees/", "Payees"),
    (r"^escrow/(payments/|transactions/[^/]+/payments/)", "Escrow payouts"),
    (r"^escrow/transactions/", "Escrow transactions"),
    (r"^endorsements/(batch|batches)", "Endorsement batches"),
    (r"^endorsements/", "Endorsements"),
    (r"^ledger/(topup|balance|history)", "Endorsement account"),
    (r"^ledger/", "Ledger"),
    (r"^onboarding/", "Insurer onboarding"),
    (r"^webhooks/", "Inbound webhooks"),
    (r"^(webhook-endpoints|webhook-deliveries)/", "Outbound webhooks"),
    (r"^notification", "Notifications"),
    (r"^sandbox/", "Sandbox"),
]
TAG_DESCRIPTIONS = {
    "Authentication": "JWT sign-in for people; partners use API keys (`Authorization: Bearer esk_...`).",
    "API keys": "Per-organization partner credentials: shown once, stored hashed, scoped, rotatable, revocable.",
    "Organizations": "Who you are and the organizations you belong to.",
    "Escrow transactions": "Open, read, change and cancel real-estate escrow transactions.",
    "Escrow funding": "Earnest money, loan funds and closing funds: payment intents, deposits, wires.",
    "Verifications": "Title, inspection, appraisal and lending tasks, and the agents' reports.",
    "Settlement": "The settlement statement, multi-operator approval with a time lock, execution.",
    "Disputes": "Raise and resolve disputes; a dispute freezes payouts.",
    "Payout controls": "Pause payouts platform-wide or per transaction.",
    "Payees": "Payout bank details, changed with a second person's confirmation.",
    "Escrow payouts": "Milestone and settlement payouts and their outcomes.",
    "Endorsements": "Add, remove or change covered employees one at a time.",
    "Endorsement batches": "CSV, JSON or X12 834 files of endorsements, with per-row results.",
    "Endorsement account": "The employer's pre-funded Endorsement Account: balance, history, top-up.",
    "Ledger": "Double-entry accounts, adjustments with approval, reversals.",
    "Insurer onboarding": "Insurer profiles (REST, SOAP, SFTP), policies, rates, census imports.",
    "Inbound webhooks": "Signed callbacks from insurers, verification agents and Stripe.",
    "Outbound webhooks": "Your endpoints for our Standard-Webhooks-signed events, deliveries, redelivery.",
    "Notifications": "Your notifications, preferences and contact details.",
    "Audit": "The tamper-evident audit trail: events, proofs and bundles anyone can verify.",
    "Sandbox": "Test-mode stand-ins (the sandbox payer for the simulated rail).",
}

_REQUEST_ID = OpenApiParameter(
    "X-Request-ID",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Your correlation id (up to 128 printable characters); echoed in the response and every log line, "
    "else one is made.",
)
_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="1-255 printable characters. A repeat with the same key and body replays the first response "
    "(`Idempotent-Replayed: true`); the same key with another body is a 422 `idempotency_key_reused`. "
    "Requests that move money on the ledger refuse to run without one (`idempotency_key_required`).",
)


def tag_for(path: str) -> str:
    relative = re.sub(r"^/api/v1/", "", path)
    return next((tag for pattern, tag in TAGS if re.search(pattern, relative)), "Platform")


class PlatformAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the platform's tags, headers and per-app error codes."""

    def get_tags(self) -> list[str]:
        return [tag_for(self.path)]

    def get_override_parameters(self) -> list[Any]:
        parameters = [*super().get_override_parameters(), _REQUEST_ID]
        handler = getattr(self.view, self.method.lower(), None)
        if getattr(handler, "honours_idempotency_key", False) or self._ledger_money_move():
            parameters.append(_IDEMPOTENCY_KEY)
        return parameters

    def _ledger_money_move(self) -> bool:
        return self.method == "POST" and type(self.view).__module__.startswith("ledger.api")

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        app = type(self.view).__module__.split(".")[0]
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for status, codes in codes_by_status({app}).items():
            if status == 500 or str(status) in operation["responses"]:
                continue
            listed = ", ".join(f"`{code}`" for code in codes)
            operation["responses"][str(status)] = {
                "description": f"{_STATUS_MEANING.get(status, 'Refused')}. Codes: {listed}.",
                "content": problem,
            }
        return operation


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: the shared Problem schema and tag descriptions."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    used = {
        tag
        for item in result.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict)
        for tag in op.get("tags", [])
    }
    result["tags"] = [
        {"name": name, "description": TAG_DESCRIPTIONS.get(name, "")} for name in TAG_DESCRIPTIONS if name in used
    ] + [{"name": name} for name in sorted(used - set(TAG_DESCRIPTIONS))]
    return result


# Generated examples read like real traffic, not `"currency": "str"`: money is a decimal string,
# ids are UUIDs, dates ISO 8601, currencies ISO 4217.
_MONEY_NAME = re.compile(
    r"(amount|price|money|balance|available|projected|posted_|pending_|premium|fee|total|commission|cost|due"
    r"|locked|parked|funds|debits|credits|difference|delta|refund|tax)"
)
# One consistent purchase, so an example body reads as a real one.
_NAMED_AMOUNTS = {
    "purchase_price": "350000.00",
    "earnest_money": "10000.00",
    "loan_amount": "280000.00",
    "annual_property_tax": "4200.00",
}
_EXAMPLE_UUID = "3f9c2a4e-8b1d-4c6e-9a7f-2d5b8e1c0a46"
_NAMED_STRINGS = {
    "currency": "USD",
    "email": "hr@acme.example",
    "phone": "+15555550123",
    "property_address": "12 Harbour Lane, Portland, ME 04101",
    "reason": "The buyer asked for a week's extension",
    "name": "Acme Corp",
    "username": "alice",
    "password": "correct-horse-battery-staple",
    "url": "https://partner.example/hooks/escrow",
    "member_id": "EMP-00042",
    "employee_id": "EMP-00042",
    "tracking_id": "END-7Q2M9X",
    "slug": "acme-corp",
}
_FORMATS = {
    "uuid": _EXAMPLE_UUID,
    "date-time": "2026-12-04T09:30:00Z",
    "date": "2026-12-04",
    "email": "hr@acme.example",
    "uri": "https://partner.example/hooks/escrow",
    "ipv4": "203.0.113.7",
}


_MAX_DEPTH = 24


def example_for(schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A plausible value for `schema` (OpenAPI 3.0), following $refs to a bounded depth."""
    if "$ref" in schema:
        return example_for(components.get(schema["$ref"].rsplit("/", 1)[-1], {}), components, name, depth + 1)
    for combinator in ("allOf", "oneOf", "anyOf"):
        if schema.get(combinator):
            return example_for(schema[combinator][0], components, name, depth + 1)
    if name in _NAMED_AMOUNTS:
        return _NAMED_AMOUNTS[name]
    if "example" in schema:
        return schema["example"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if schema.get("enum"):
        return next((value for value in schema["enum"] if value not in ("", None)), schema["enum"][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        if depth > _MAX_DEPTH:  # a self-referencing schema: stop with an empty object
            return {}
        return {
            prop: example_for(sub, components, prop, depth + 1)
            for prop, sub in schema.get("properties", {}).items()
            if sub.get("format") != "binary"
        }
    if kind == "array":
        return [example_for(schema.get("items", {}), components, name, depth + 1)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return _string_example(schema, name)


def _string_example(schema: dict[str, Any], name: str) -> str:
    text = _string_guess(schema, name)
    maximum = schema.get("maxLength")
    text = text[:maximum] if maximum else text
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, text):
        # A constrained field (a token, a code): the first plausible spelling that the pattern accepts.
        candidates = (text.replace(" ", "_"), text.replace(" ", "-").upper(), "1200.00", "A1")
        text = next((c for c in candidates if re.search(pattern, c)), text)
    return text


def _string_guess(schema: dict[str, Any], name: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    lowered = name.lower()
    if lowered in _NAMED_STRINGS:
        return _NAMED_STRINGS[lowered]
    if lowered.endswith("tracking_id"):
        return _NAMED_STRINGS["tracking_id"]
    if lowered.endswith("_id") or lowered in ("id", "public_id"):
        return _EXAMPLE_UUID
    if lowered.endswith("_at"):
        return _FORMATS["date-time"]
    if lowered.endswith(("_date", "_on")) or lowered in ("date", "effective_date"):
        return _FORMATS["date"]
    if lowered.endswith("_pct"):
        return "2.5"
    if _MONEY_NAME.search(lowered):
        return "1200.00"
    text = lowered.replace("_", " ") or "text"
    minimum = int(schema.get("minLength", 0))
    return text if len(text) >= minimum else text.ljust(minimum, "x")


def add_examples(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: an example for every JSON body that has none."""
    components = result.get("components", {}).get("schemas", {})
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            bodies = [operation.get("requestBody", {}), *list(operation.get("responses", {}).values())]
            for body in bodies:
                for media_type, content in body.get("content", {}).items():
                    if "json" in media_type and "schema" in content and not {"example", "examples"} & set(content):
                        content["example"] = example_for(content["schema"], components)
    return result
