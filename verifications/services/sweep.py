"""Lost messages: agent work whose Celery message never had its effect is handed over again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from escrow_project.common.enqueue import enqueue_on_commit
from verifications.models import AgentProfile, ProviderKind, VerificationTask
from verifications.services._common import logger
from verifications.states import TaskStatus, WorkflowStatus

# A message older than this that has not had its effect was lost (the broker down at enqueue, or it
# restarted empty; a worker killed mid-task): long past any queueing delay on a healthy platform.
TASK_SWEEP_AFTER = timedelta(minutes=2)


def tasks_sweep(*, now: Any = None, limit: int = 500) -> list[int]:
    """Hand lost agent work to a worker again: sandbox tasks assigned but never started, and sandbox
    tasks started whose report never came (past the agent's delay). Both tasks re-check state first,
    and a sandbox report is the same for the same attempt, so a duplicate hand-over has no second
    effect. Partner agents' tasks wait on the partner, not on us, and are left to escalation."""
    from verifications.tasks import sandbox_report_deliver, task_execute

    now = now or timezone.now()
    cutoff = now - TASK_SWEEP_AFTER
    sandbox = AgentProfile.objects.filter(
        organization_id=OuterRef("agent_id"),
        verification_type=OuterRef("verification_type"),
        provider=ProviderKind.SANDBOX,
    )
    live = VerificationTask.objects.filter(Exists(sandbox)).exclude(workflow__status=WorkflowStatus.CANCELLED)
    never_started = list(
        live.filter(status=TaskStatus.ASSIGNED, assigned_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for task_id in never_started:
        enqueue_on_commit(task_execute, task_id)
    scale = settings.VERIFICATION_SANDBOX_DELAY_SCALE
    unanswered = []
    started = (
        live.filter(status__in=[TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE], started_at__lt=cutoff)
        .annotate(delay=Subquery(sandbox.values("sandbox_delay_seconds")[:1]))
        .order_by("pk")
        .values_list("pk", "attempt", "started_at", "delay")[:limit]
    )
    for task_id, attempt, started_at, delay in started:
        if started_at is not None and started_at + timedelta(seconds=(delay or 0) * scale) < cutoff:
            enqueue_on_commit(sandbox_report_deliver, task_id, attempt)
            unanswered.append(task_id)
    if never_started or unanswered:
        logger.info("verification_tasks_swept", never_started=len(never_started), unanswered=len(unanswered))
    return never_started + unanswered
