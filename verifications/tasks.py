"""Celery tasks of verifications: take ids, call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from verifications import services
from verifications.agents.base import TransientAgentError


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def task_execute(task_id: int) -> str:
    return services.task_execute(task_id=task_id)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(TransientAgentError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=False,
    max_retries=settings.VERIFICATION_MAX_EXECUTION_ATTEMPTS,
    soft_time_limit=60,
    time_limit=90,
)
def sandbox_report_deliver(self: object, task_id: int, attempt: int) -> str:
    return services.sandbox_report_deliver(task_id=task_id, attempt=attempt)


@shared_task(soft_time_limit=120, time_limit=150)
def tasks_escalate_overdue() -> int:
    return services.tasks_escalate_overdue()
