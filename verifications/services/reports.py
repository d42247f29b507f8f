"""Report intake: an agent's (or an operator's, or the sandbox's) report decides its task."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from django.db import transaction

from escrow_project.common.errors import ConflictError, NotFoundError
from verifications.agents.base import TransientAgentError
from verifications.agents.registry import provider_for
from verifications.models import ProviderKind, ReportSource, SandboxOutcome, VerificationReport
from verifications.services._common import audit, lock_task, on_behalf, profile_for
from verifications.services.decisions import task_decided, task_fail
from verifications.states import OPEN_TASK_STATUSES, TaskStatus, WorkflowStatus


def _payload_digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@transaction.atomic
def report_submit(
    *,
    task_id: int,
    payload: Any,
    source: str,
    agent_organization_id: int | None = None,
    submitted_by: Any = None,
    operator_reason: str = "",
) -> VerificationReport:
    """Validate a report strictly, decide the task and tell the subject; a repeat is a no-op.

    `agent_organization_id` None with `operator_reason` is an operator reporting in the agent's
    place; the audit event names the operator and the reason.
    """
    task = lock_task(task_id)
    if agent_organization_id is not None and task.agent_id != agent_organization_id:
        raise NotFoundError("No such verification task.")  # not even its existence leaks
    existing = task.reports.filter(attempt=task.attempt).first()
    if existing is not None:
        if _payload_digest(existing.payload) == _payload_digest(payload):
            return existing  # a repeated callback: same report, no second effect
        raise ConflictError(
            "A report was already submitted for this task; ask for a reassignment to send another.",
            code="report_already_submitted",
        )
    if task.workflow.status == WorkflowStatus.CANCELLED:
        raise ConflictError("The verification workflow was cancelled.", code="workflow_cancelled")
    if task.status == TaskStatus.PENDING:
        raise ConflictError(
            "This task's dependencies are not verified yet; it cannot take a report.", code="dependencies_not_met"
        )
    if task.status not in OPEN_TASK_STATUSES:
        raise ConflictError(f"The task is {task.status}; it takes no report.", code="task_not_open")
    provider = provider_for(task.verification_type)
    decision = provider.validate_report(payload, context=task.workflow.context)
    report = VerificationReport.objects.create(
        task=task,
        attempt=task.attempt,
        verification_type=task.verification_type,
        payload=payload,
        passed=decision.passed,
        reasons=decision.reasons,
        source=source,
        submitted_by=submitted_by if getattr(submitted_by, "is_authenticated", False) else None,
    )
    task.submit()
    audit(
        "verification.report_submitted",
        task,
        report=str(report.public_id),
        source=source,
        passed=decision.passed,
        **on_behalf(submitted_by, agent_organization_id, operator_reason),
    )
    if decision.passed:
        task.verify()
    else:
        task.reject()
    task.save()
    task_decided(task, "verified" if decision.passed else "rejected")
    return report


def sandbox_report_deliver(*, task_id: int, attempt: int) -> str:
    """The sandbox agent sends its report (realistic, outcome as configured on its profile)."""
    with transaction.atomic():
        task = lock_task(task_id)
        if task.attempt != attempt or task.status not in OPEN_TASK_STATUSES:
            return "skipped"
        if task.workflow.status == WorkflowStatus.CANCELLED:
            return "skipped"
        profile = profile_for(task)
        if profile is None or profile.provider != ProviderKind.SANDBOX:
            return "skipped"
        # Counted in its own transaction so a transient failure below still counts as an attempt.
        task.execution_attempts += 1
        task.save(update_fields=["execution_attempts"])
    if profile.sandbox_outcome == SandboxOutcome.FLAKY and task.execution_attempts < 2:
        raise TransientAgentError("The sandbox agent's system is briefly unavailable.")
    with transaction.atomic():
        if profile.sandbox_outcome == SandboxOutcome.FAIL:
            task_fail(task_id=task.pk, reason="The sandbox agent is configured to fail.")
            return "failed"
        rng = random.Random(f"{task.public_id}:{task.attempt}")  # noqa: S311 - realistic demo data, not security
        passing = profile.sandbox_outcome != SandboxOutcome.REJECT
        payload = provider_for(task.verification_type).sandbox_report(
            context=task.workflow.context, passing=passing, rng=rng
        )
        report_submit(task_id=task.pk, payload=payload, source=ReportSource.SANDBOX)
    return "delivered"
