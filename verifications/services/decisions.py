"""A task is decided (verified, rejected, failed or waived) and its workflow follows."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter, Histogram

from escrow_project.common.fsm import transition_run
from verifications import signals
from verifications.models import VerificationTask, VerificationWorkflow
from verifications.services._common import audit, lock_task, logger, signal_kwargs
from verifications.services.workflows import workflow_advance
from verifications.states import TaskStatus, WorkflowStatus

TASKS_DECIDED = Counter(
    "verification_tasks_decided_total", "Verification tasks decided, by type and outcome", ["type", "outcome"]
)
TASK_DURATION = Histogram(
    "verification_task_duration_seconds",
    "From assignment to decision, by type",
    ["type"],
    buckets=(1, 5, 30, 60, 300, 3600, 6 * 3600, 24 * 3600, 72 * 3600, 7 * 24 * 3600),
)


def task_decided(task: VerificationTask, outcome: str) -> None:
    TASKS_DECIDED.labels(type=task.verification_type, outcome=outcome).inc()
    if task.assigned_at is not None:
        TASK_DURATION.labels(type=task.verification_type).observe((timezone.now() - task.assigned_at).total_seconds())
    logger.info("verification_decided", task=str(task.public_id), type=task.verification_type, outcome=outcome)
    audit(f"verification.{outcome}", task, attempt=task.attempt, waived=task.waived, reason=task.failure_reason)
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=task.workflow_id)
    if outcome != "verified":
        workflow.block()
        workflow.save(update_fields=["status"])
    signals.verification_decided.send(sender=VerificationTask, outcome=outcome, **signal_kwargs(task))
    if outcome == "verified":
        if (
            workflow.status == WorkflowStatus.BLOCKED
            and not workflow.tasks.filter(status__in=[TaskStatus.REJECTED, TaskStatus.FAILED]).exists()
        ):
            workflow.resume()  # the blocking task was waived or redone
            workflow.save(update_fields=["status"])
        workflow_advance(workflow_id=workflow.pk)
        if not workflow.tasks.exclude(status=TaskStatus.VERIFIED).exists():
            workflow.complete()
            workflow.save(update_fields=["status", "completed_at"])
            signals.workflow_passed.send(
                sender=VerificationWorkflow,
                workflow_id=workflow.pk,
                subject_type=workflow.subject_type,
                subject_id=workflow.subject_id,
            )


@transaction.atomic
def task_fail(*, task_id: int, reason: str) -> VerificationTask:
    """The agent cannot do the work: the task fails and the subject is told."""
    task = lock_task(task_id)
    transition_run(task, "fail")
    task.failure_reason = reason[:300]
    task.save()
    task_decided(task, "failed")
    return task


@transaction.atomic
def task_waive(*, task_id: int) -> VerificationTask:
    """The parties accept a rejected report; the task counts as verified and dependents start."""
    task = lock_task(task_id)
    transition_run(task, "waive")
    task.save()
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=task.workflow_id)
    if workflow.status == WorkflowStatus.BLOCKED:
        workflow.resume()
        workflow.save(update_fields=["status"])
    task_decided(task, "verified")
    return task
