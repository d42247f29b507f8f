"""What every verification service shares: the locked task, its audit event, its signal
arguments, the agent's profile and deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone

from audit.services import event_record
from escrow_project.common.errors import NotFoundError
from notifications.services import notification_fanout_enqueue
from notifications.types import Recipient
from verifications.models import AgentProfile, VerificationTask

logger = structlog.get_logger("verifications.services")


def lock_task(task_id: int) -> VerificationTask:
    try:
        return VerificationTask.objects.select_for_update().select_related("workflow").get(pk=task_id)
    except VerificationTask.DoesNotExist:
        raise NotFoundError("No such verification task.") from None


def signal_kwargs(task: VerificationTask) -> dict[str, Any]:
    return {
        "task_id": task.pk,
        "workflow_id": task.workflow_id,
        "subject_type": task.workflow.subject_type,
        "subject_id": task.workflow.subject_id,
        "verification_type": task.verification_type,
    }


def audit(kind: str, task: VerificationTask, **payload: Any) -> None:
    """Verification events go on the subject's own audit chain, so its parties see them."""
    event_record(
        kind=kind,
        subject_type=task.workflow.subject_type,
        subject_id=task.workflow.subject_id,
        actor=f"organization:{task.agent.public_id}" if task.agent_id and task.agent else "system:verifications",
        payload={"task": str(task.public_id), "type": task.verification_type, "status": task.status, **payload},
    )


def tell_agent(task: VerificationTask) -> None:
    """The agent's people (and its webhook endpoints) learn of the assignment."""
    if task.agent_id is None:
        return
    notification_fanout_enqueue(
        kind="verification_assigned",
        recipients=[Recipient.organization(task.agent_id)],
        context={
            "reference": task.workflow.context.get("reference", task.workflow.subject_id),
            "verification_type": task.verification_type,
            "due_date": task.deadline,
            "task_id": str(task.public_id),
        },
        dedupe_prefix=f"verifications:{task.pk}:{task.attempt}:assigned",
        subject_type=task.workflow.subject_type,
        subject_id=task.workflow.subject_id,
    )


def profile_for(task: VerificationTask) -> AgentProfile | None:
    if task.agent_id is None:
        return None
    return AgentProfile.objects.filter(organization_id=task.agent_id, verification_type=task.verification_type).first()


def deadline_for(agent_id: int | None, verification_type: str) -> Any:
    profile = (
        AgentProfile.objects.filter(organization_id=agent_id, verification_type=verification_type).first()
        if agent_id is not None
        else None
    )
    hours = profile.deadline_hours if profile else settings.VERIFICATION_DEFAULT_DEADLINE_HOURS
    return timezone.now() + timedelta(hours=hours)


def on_behalf(user: Any, agent_organization_id: int | None, operator_reason: str) -> dict[str, str]:
    """Audit fields for a step an operator took in the agent's place (none for the agent itself)."""
    if agent_organization_id is not None or not operator_reason:
        return {}
    return {"operator": f"user:{getattr(user, 'public_id', '')}", "operator_reason": operator_reason[:300]}
