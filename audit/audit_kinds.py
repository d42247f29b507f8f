"""The audit kinds the audit app writes itself (identity's news, the operator console), and the
reconciliation kinds the business apps share."""

from __future__ import annotations

from collections.abc import Iterator

from audit.kinds import AuditKind

AUDIT_KINDS = (
    AuditKind("identity.role_granted", "a person was given a role in an organization"),
    AuditKind("identity.role_revoked", "a person's role in an organization was taken away"),
    AuditKind("identity.api_key_issued", "an organization's API key was issued"),
    AuditKind("identity.api_key_revoked", "an organization's API key was revoked"),
    AuditKind("console.personal_value_revealed", "an operator revealed a masked personal value in the console"),
    AuditKind("bench.step", "benchmarks only (audit.bench): one appended event"),
    AuditKind("bench.bulk", "benchmarks only (audit.bench): one event of a bulk append"),
)

# Steps on a reconciliation break (ledger.services.reconciliation announces them), recorded on the
# run's chain by the business app that owns the run: transactions and endorsements register these.
RECONCILIATION_KINDS = (
    AuditKind("reconciliation.write_off_requested", "a break's write-off was asked for (a second person decides)"),
    AuditKind("reconciliation.write_off_approved", "a break was written off by a second person"),
    AuditKind("reconciliation.write_off_rejected", "a break's write-off was refused; it is open again"),
    AuditKind("reconciliation.resolved", "a break was resolved"),
)


def console_action_kinds() -> Iterator[AuditKind]:
    """`console.<action>` for every object action on the admin site, with its button's label."""
    from django.contrib import admin

    from escrow_project.common.admin import ObjectAction

    labels: dict[str, list[str]] = {}
    for model, model_admin in admin.site._registry.items():
        for name in getattr(model_admin, "object_actions", ()):
            spec = getattr(type(model_admin), name, None)
            if isinstance(spec, ObjectAction):
                labels.setdefault(name, []).append(f"{spec.label} ({model._meta.verbose_name})")
    for name, found in sorted(labels.items()):
        yield AuditKind(f"console.{name}", "operator console: " + "; ".join(sorted(set(found))))
