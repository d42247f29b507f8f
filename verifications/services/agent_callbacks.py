"""What an agent tells us outside a report: progress (in progress, failed) and who it is."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from escrow_project.common.errors import NotFoundError, PermissionDeniedError, UnprocessableError
from escrow_project.common.fsm import transition_run
from identity.models import Organization
from verifications.models import AgentProfile, VerificationTask
from verifications.services._common import audit, lock_task, on_behalf
from verifications.services.decisions import task_fail
from verifications.states import TaskStatus


@transaction.atomic
def task_status_update(
    *,
    task_id: int,
    status: str,
    agent_organization_id: int | None,
    reason: str = "",
    actor: Any = None,
    operator_reason: str = "",
) -> VerificationTask:
    """An agent reports progress: in_progress (work began) or failed (cannot do it)."""
    task = lock_task(task_id)
    if agent_organization_id is not None and task.agent_id != agent_organization_id:
        raise NotFoundError("No such verification task.")
    if agent_organization_id is None and operator_reason:
        audit("verification.status_set_by_operator", task, to=status, **on_behalf(actor, None, operator_reason))
    if status == TaskStatus.IN_PROGRESS:
        if task.status == TaskStatus.IN_PROGRESS:
            return task
        transition_run(task, "begin")
        task.save()
        return task
    if status == TaskStatus.FAILED:
        return task_fail(task_id=task.pk, reason=reason or "The agent reported a failure.")
    raise UnprocessableError(
        "An agent may set a task only to in_progress or failed; decisions come from reports.", code="invalid_status"
    )


def agent_for_webhook(*, organization_public_id: Any) -> Organization:
    organization = Organization.objects.filter(public_id=organization_public_id, is_active=True).first()
    if organization is None or not AgentProfile.objects.filter(organization=organization).exists():
        raise PermissionDeniedError("Unknown agent.", code="unknown_agent")
    return organization
