"""The audit kinds endorsements writes, on the employer's chain (`employer_endorsements`) or a run's."""

from __future__ import annotations

from audit.audit_kinds import RECONCILIATION_KINDS
from audit.kinds import AuditKind

AUDIT_KINDS = (
    AuditKind("endorsement.received", "requests were received (API or file) and validated"),
    AuditKind("endorsement.fund_locked", "requests' premium was locked in the employer's account"),
    AuditKind("endorsement.on_hold_funds", "requests wait for funds (the account is short)"),
    AuditKind("endorsement.sent", "requests were delivered to the insurer"),
    AuditKind("endorsement.confirmed", "the insurer confirmed requests"),
    AuditKind("endorsement.activated", "the insurer activated requests' coverage"),
    AuditKind("endorsement.rejected", "the insurer rejected requests"),
    AuditKind("endorsement.failed", "requests failed (the insurer refused their content)"),
    AuditKind("endorsement.dead_letter", "delivery stopped for an operator"),
    AuditKind("endorsement.requeued", "an operator sent a request again"),
    AuditKind("endorsement.cancelled", "a request was cancelled and its hold released"),
    AuditKind("endorsement.batch_held", "a file was held for review (unusual volume)"),
    AuditKind("endorsement.batch_released", "a held file was released by a reviewer"),
    AuditKind("endorsement.batch_rejected", "a held file was rejected by a reviewer"),
    AuditKind("endorsement_account.topped_up", "the employer's endorsement account was topped up"),
    AuditKind("insurer.profile_set", "an insurer's delivery profile was set"),
    AuditKind("policy.onboarded", "a group policy was onboarded"),
    AuditKind("policy.rates_added", "rates were added to a policy"),
    AuditKind("census.imported", "a census was imported"),
    AuditKind("census.failed", "a census import failed"),
    # Uploads in the operator console (endorsements/admin.py), recorded by audit like its buttons.
    AuditKind("console.census_import", "operator console: Import census (group policy)"),
    AuditKind("console.statement_import", "operator console: Reconcile an insurer statement (insurer profile)"),
    *RECONCILIATION_KINDS,
)
