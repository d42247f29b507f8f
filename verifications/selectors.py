"""Reads of verification workflows, scoped by who asks."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from escrow_project.common.errors import NotFoundError
from identity.selectors import organization_ids_for_user, user_is_operator
from verifications.models import AgentProfile, VerificationReport, VerificationTask, VerificationWorkflow
from verifications.states import TaskStatus


def workflow_get(*, workflow_id: int) -> VerificationWorkflow:
    return VerificationWorkflow.objects.get(pk=workflow_id)


def workflow_tasks(*, workflow_id: int) -> QuerySet[VerificationTask]:
    return (
        VerificationTask.objects.filter(workflow_id=workflow_id)
        .select_related("agent")
        .prefetch_related("depends_on")
        .order_by("id")
    )


def workflow_all_verified(*, workflow_id: int) -> bool:
    tasks = VerificationTask.objects.filter(workflow_id=workflow_id)
    return tasks.exists() and not tasks.exclude(status=TaskStatus.VERIFIED).exists()


def task_list_for_agent(*, user: Any) -> QuerySet[VerificationTask]:
    """Agents see only the tasks assigned to their organization; operators see all."""
    tasks = VerificationTask.objects.select_related("workflow", "agent").order_by("-id")
    if user_is_operator(user):
        return tasks
    return tasks.filter(agent_id__in=organization_ids_for_user(user))


def task_get_for_agent(*, user: Any, public_id: Any) -> VerificationTask:
    task = task_list_for_agent(user=user).filter(public_id=public_id).first()
    if task is None:
        raise NotFoundError("No such verification task.")
    return task


def task_latest_report(*, task: VerificationTask) -> VerificationReport | None:
    return task.reports.order_by("-attempt").first()


def agent_profile_for(*, organization_id: int, verification_type: str) -> AgentProfile | None:
    return AgentProfile.objects.filter(
        organization_id=organization_id, verification_type=verification_type, is_active=True
    ).first()


def agent_default_for(*, verification_type: str) -> AgentProfile | None:
    """The first active agent of a type: used when a transaction does not name one."""
    return (
        AgentProfile.objects.filter(verification_type=verification_type, is_active=True)
        .select_related("organization")
        .order_by("id")
        .first()
    )
