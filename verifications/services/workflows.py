"""A subject's workflow: created as a DAG of tasks, advanced as tasks are verified, cancelled, given new facts."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import ConflictError, UnprocessableError
from identity.models import Organization
from verifications.models import VerificationTask, VerificationWorkflow
from verifications.services._common import audit, deadline_for, logger, tell_agent
from verifications.states import DEPENDENCIES, TaskStatus, VerificationType, WorkflowStatus


@transaction.atomic
def workflow_create(
    *,
    subject_type: str,
    subject_id: str,
    context: dict[str, Any],
    agents: dict[str, Organization | None],
) -> VerificationWorkflow:
    """Create the DAG of tasks for a subject (one per type in `agents`); nothing starts yet."""
    unknown = set(agents) - set(VerificationType.values)
    if unknown:
        raise UnprocessableError(f"Unknown verification types: {', '.join(sorted(unknown))}.", code="unknown_type")
    if VerificationWorkflow.objects.filter(subject_type=subject_type, subject_id=subject_id).exists():
        raise ConflictError("This subject already has a verification workflow.", code="workflow_exists")
    workflow = VerificationWorkflow.objects.create(subject_type=subject_type, subject_id=subject_id, context=context)
    tasks = {
        kind: VerificationTask.objects.create(workflow=workflow, verification_type=kind, agent=agent)
        for kind, agent in agents.items()
    }
    for kind, task in tasks.items():
        task.depends_on.set([tasks[dep] for dep in DEPENDENCIES[kind] if dep in tasks])
    return workflow


@transaction.atomic
def workflow_advance(*, workflow_id: int) -> list[VerificationTask]:
    """Start every pending task whose dependencies are verified; returns the tasks started."""
    from verifications.tasks import task_execute

    workflow = VerificationWorkflow.objects.select_for_update().get(pk=workflow_id)
    if workflow.status != WorkflowStatus.RUNNING:
        return []
    started = []
    for task in VerificationTask.objects.select_for_update().filter(workflow=workflow, status=TaskStatus.PENDING):
        deps = list(task.depends_on.all())
        if any(dep.status != TaskStatus.VERIFIED for dep in deps) or task.agent_id is None:
            continue
        task.start()
        task.deadline = deadline_for(task.agent_id, task.verification_type)
        task.save()
        enqueue_on_commit(task_execute, task.pk)
        audit("verification.assigned", task, deadline=task.deadline, attempt=task.attempt)
        tell_agent(task)
        started.append(task)
        logger.info("verification_task_started", task=str(task.public_id), type=task.verification_type)
    return started


@transaction.atomic
def workflow_cancel(*, workflow_id: int) -> None:
    """Stop a workflow: late reports are refused and sandbox deliveries do nothing."""
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=workflow_id)
    if workflow.status in (WorkflowStatus.RUNNING, WorkflowStatus.BLOCKED):
        workflow.cancel()
        workflow.save(update_fields=["status"])


@transaction.atomic
def workflow_context_update(*, workflow_id: int, changes: dict[str, Any]) -> VerificationWorkflow:
    """New facts for agents (e.g. a renegotiated price); later reports are judged against them."""
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=workflow_id)
    workflow.context = {**workflow.context, **changes}
    workflow.save(update_fields=["context"])
    return workflow
