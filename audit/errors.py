"""Error codes the audit app answers (docs/errors.md is generated from these)."""

from __future__ import annotations

from escrow_project.common.error_codes import ErrorCode

ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("audit_event_invalid", 422, "the audit event is incomplete"),
    ErrorCode("audit_event_not_found", 404, "no such audit event"),
    ErrorCode("audit_naive_datetime", 422, "occurred_at must be timezone-aware"),
    ErrorCode(
        "audit_payload_float", 422, "an audit payload field is a float; pass money and measures as Decimal or string"
    ),
    ErrorCode("audit_payload_invalid", 422, "an audit payload field has a type that is not JSON"),
    ErrorCode("audit_trail_not_found", 404, "no such audit trail"),
)
