"""Error codes the verifications app answers (docs/errors.md is generated from these)."""

from __future__ import annotations

from escrow_project.common.error_codes import ErrorCode

ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("agent_not_qualified", 422, "the agent named is not an active agent of that verification type"),
    ErrorCode("unknown_type", 422, "a verification type that does not exist"),
    ErrorCode("dependencies_not_met", 409, "this task's dependencies are not verified yet; it cannot take a report"),
    ErrorCode("invalid_report", 422, "A report must be a JSON object"),
    ErrorCode(
        "invalid_status", 422, "an agent may set a task only to in_progress or failed; decisions come from reports"
    ),
    ErrorCode(
        "operator_reason_required",
        422,
        "an operator reporting in an agent's place must give the reason (operator_reason)",
    ),
    ErrorCode(
        "report_already_submitted",
        409,
        "A report was already submitted for this task; ask for a reassignment to send another",
    ),
    ErrorCode("task_not_open", 409, "the verification task is not open for a report"),
    ErrorCode("unknown_agent", 403, "unknown agent"),
    ErrorCode("workflow_cancelled", 409, "the verification workflow was cancelled"),
    ErrorCode("workflow_exists", 409, "this subject already has a verification workflow"),
)
