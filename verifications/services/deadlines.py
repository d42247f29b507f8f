"""Deadlines: overdue tasks are escalated to the officer, then the operator, then reassigned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from verifications import selectors, signals
from verifications.models import VerificationTask
from verifications.services._common import audit, lock_task, logger, signal_kwargs
from verifications.services.assignment import task_reassign
from verifications.states import TaskStatus

TASKS_AUTO_REASSIGNED = Counter(
    "verification_tasks_auto_reassigned_total", "Overdue tasks given to another agent automatically", ["type"]
)


def tasks_escalate_overdue(*, now: Any = None) -> int:
    """Overdue tasks: tell the officer, later the operator, later still reassign to another agent."""
    now = now or timezone.now()
    count = 0
    due = VerificationTask.objects.filter(
        status__in=[TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS], deadline__lt=now
    ).values_list("pk", flat=True)
    for task_id in list(due):
        count += _escalate_one(task_id=task_id, now=now, level=1)
    grace = now - timedelta(hours=settings.VERIFICATION_ESCALATION_GRACE_HOURS)
    stale = VerificationTask.objects.filter(
        status=TaskStatus.OVERDUE, escalation_level=1, escalated_at__lt=grace
    ).values_list("pk", flat=True)
    for task_id in list(stale):
        count += _escalate_one(task_id=task_id, now=now, level=2)
    after = settings.VERIFICATION_AUTO_REASSIGN_AFTER_HOURS
    if after > 0:
        abandoned = VerificationTask.objects.filter(
            status=TaskStatus.OVERDUE, escalation_level=2, escalated_at__lt=now - timedelta(hours=after)
        ).values_list("pk", flat=True)
        for task_id in list(abandoned):
            count += _reassign_overdue(task_id=task_id, now=now)
    return count


@transaction.atomic
def _reassign_overdue(*, task_id: int, now: Any) -> int:
    """The operator was told and nothing happened: give the task to another agent of its type."""
    task = lock_task(task_id)
    if task.status != TaskStatus.OVERDUE or task.escalation_level != 2:
        return 0
    previous = task.agent
    replacement = selectors.agent_alternative_for(verification_type=task.verification_type, exclude=task.agent_id)
    if replacement is None:
        # Nobody else does this work: it stays with the operator, who was already alerted; level 3
        # records that the policy ran, so the sweep does not retry it every few minutes.
        task.escalation_level = 3
        task.escalated_at = now
        task.save(update_fields=["escalation_level", "escalated_at"])
        audit("verification.reassign_unavailable", task, agent=str(previous.public_id) if previous else None)
        logger.warning("verification_reassign_unavailable", task=str(task.public_id), type=task.verification_type)
        return 0
    task = task_reassign(task_id=task.pk, agent=replacement)
    audit(
        "verification.auto_reassigned",
        task,
        previous_agent=str(previous.public_id) if previous else None,
        agent=str(replacement.public_id),
        attempt=task.attempt,
    )
    TASKS_AUTO_REASSIGNED.labels(type=task.verification_type).inc()
    logger.info("verification_auto_reassigned", task=str(task.public_id), type=task.verification_type)
    signals.verification_overdue.send(sender=VerificationTask, level=3, **signal_kwargs(task))
    return 1


@transaction.atomic
def _escalate_one(*, task_id: int, now: Any, level: int) -> int:
    task = lock_task(task_id)
    if level == 1:
        if (
            task.status not in (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS)
            or not task.deadline
            or task.deadline >= now
        ):
            return 0
        task.mark_overdue()
    elif task.status != TaskStatus.OVERDUE or task.escalation_level != 1:
        return 0
    task.escalation_level = level
    task.escalated_at = now
    task.save()
    audit("verification.overdue", task, escalation_level=level)
    signals.verification_overdue.send(sender=VerificationTask, level=level, **signal_kwargs(task))
    return 1
