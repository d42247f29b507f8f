"""Handing a task to an agent: the first execution, and a new attempt (reassignment)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import ConflictError, UnprocessableError
from escrow_project.common.fsm import transition_run
from identity.models import Organization
from verifications.agents.registry import provider_for
from verifications.models import AgentProfile, VerificationTask, VerificationWorkflow
from verifications.services._common import audit, deadline_for, lock_task, profile_for, tell_agent
from verifications.states import TaskStatus, WorkflowStatus


@transaction.atomic
def task_execute(*, task_id: int) -> str:
    """Ask the task's agent to start work; sandbox agents schedule their report (Celery countdown)."""
    from verifications.tasks import sandbox_report_deliver

    task = lock_task(task_id)
    if task.status != TaskStatus.ASSIGNED or task.workflow.status == WorkflowStatus.CANCELLED:
        return "skipped"  # a repeated or late message: the work already started or is moot
    profile = profile_for(task)
    result = provider_for(task.verification_type).execute_verification(task=task, profile=profile)
    if result == "sandbox_scheduled" and profile is not None:
        task.begin()
        task.save()
        countdown = profile.sandbox_delay_seconds * settings.VERIFICATION_SANDBOX_DELAY_SCALE
        enqueue_on_commit(sandbox_report_deliver, task.pk, task.attempt, countdown=countdown)
    return result


@transaction.atomic
def task_reassign(*, task_id: int, agent: Organization | None = None) -> VerificationTask:
    """Start a new attempt with another agent (or the same one), with a fresh deadline."""
    from verifications.tasks import task_execute as task_execute_job

    task = lock_task(task_id)
    if task.workflow.status == WorkflowStatus.CANCELLED:
        raise ConflictError("The verification workflow was cancelled.", code="workflow_cancelled")
    if agent is not None:
        if not AgentProfile.objects.filter(
            organization=agent, verification_type=task.verification_type, is_active=True
        ).exists():
            raise UnprocessableError(
                f"{agent} is not an active {task.verification_type} agent.", code="agent_not_qualified"
            )
        task.agent = agent
    was_blocking = task.status in (TaskStatus.FAILED, TaskStatus.REJECTED)
    transition_run(task, "reassign")
    task.deadline = deadline_for(task.agent_id, task.verification_type)
    task.escalation_level = 0
    task.escalated_at = None
    task.failure_reason = ""
    task.save()
    audit("verification.reassigned", task, attempt=task.attempt)
    tell_agent(task)
    if was_blocking:
        workflow = VerificationWorkflow.objects.select_for_update().get(pk=task.workflow_id)
        if workflow.status == WorkflowStatus.BLOCKED:
            workflow.resume()
            workflow.save(update_fields=["status"])
    enqueue_on_commit(task_execute_job, task.pk)
    return task
