"""The audit kinds verifications writes, on its subject's own chain (verifications.services._common.audit)."""

from __future__ import annotations

from audit.kinds import AuditKind

AUDIT_KINDS = (
    AuditKind("verification.assigned", "a task's dependencies were met and it went to its agent, with a deadline"),
    AuditKind("verification.report_submitted", "an agent's (or an operator's, or the sandbox's) report arrived"),
    AuditKind("verification.verified", "a task was verified (by its report, or waived by the parties)"),
    AuditKind("verification.rejected", "a task's report failed the rules of its type"),
    AuditKind("verification.failed", "the agent could not do the work"),
    AuditKind("verification.status_set_by_operator", "an operator reported progress in the agent's place"),
    AuditKind("verification.reassigned", "a new attempt started, with the same or another agent"),
    AuditKind("verification.overdue", "a task passed its deadline (level 1: the officer, 2: the operator)"),
    AuditKind("verification.auto_reassigned", "an overdue task went to another agent of its type automatically"),
    AuditKind("verification.reassign_unavailable", "an overdue task stays with the operator: no other agent"),
)
