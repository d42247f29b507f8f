"""Reads of verification workflows, scoped by who asks."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from escrow_project.common import readcache
from escrow_project.common.errors import NotFoundError, PermissionDeniedError, UnprocessableError
from identity.models import Membership, Organization, Role
from identity.selectors import organization_ids_for_user, user_is_operator
from verifications.models import AgentProfile, VerificationReport, VerificationTask
from verifications.states import OPEN_TASK_STATUSES, TaskStatus


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


def task_reporter_for(*, user: Any, task: VerificationTask, operator_reason: str = "") -> int | None:
    """Who may decide a task: the assigned agent organization's verifiers, or an operator with a reason.

    Returns the agent organization the caller reports for, or None for an operator acting in the
    agent's place (the service audits that with the reason). Other members of the agent's
    organization (an escrow officer of a title company that also searches titles, say) see the task
    but may not decide it: a report releases money to that organization.
    """
    if (
        task.agent_id is not None
        and Membership.objects.filter(user=user, organization_id=task.agent_id, role=Role.VERIFIER).exists()
    ):
        return task.agent_id
    if user_is_operator(user):
        if not operator_reason.strip():
            raise UnprocessableError(
                "An operator reporting in an agent's place must give the reason (operator_reason).",
                code="operator_reason_required",
                errors=[{"field": "operator_reason", "code": "required", "message": "Give the reason."}],
            )
        return None
    if task.agent_id in organization_ids_for_user(user):
        raise PermissionDeniedError("Only the assigned agent's verifiers may report on this task.")
    raise NotFoundError("No such verification task.")


# Read-through caches (escrow_project.common.readcache); verifications.apps connects the invalidation.
REPORT_CACHE_SPACE, REPORT_CACHE_TTL = "verification_report", 24 * 3600
AGENT_CACHE_SPACE, AGENT_CACHE_TTL = "agent_profile", 3600


def task_latest_report(*, task: VerificationTask) -> VerificationReport | None:
    """The latest report of a task (cached 24 h; a new report retires it on commit)."""
    return readcache.cached(
        space=REPORT_CACHE_SPACE,
        key=str(task.pk),
        ttl=REPORT_CACHE_TTL,
        load=lambda: task.reports.order_by("-attempt").first(),
    )


def report_cache_invalidate(*, task_id: int) -> None:
    readcache.invalidate_on_commit(space=REPORT_CACHE_SPACE, key=str(task_id), ttl=REPORT_CACHE_TTL)


def agent_profile_for(*, organization_id: int, verification_type: str) -> AgentProfile | None:
    """The active profile of an agent for a type (cached 1 h; a profile write retires it on commit)."""
    return readcache.cached(
        space=AGENT_CACHE_SPACE,
        key=f"{organization_id}:{verification_type}",
        ttl=AGENT_CACHE_TTL,
        load=lambda: AgentProfile.objects.filter(
            organization_id=organization_id, verification_type=verification_type, is_active=True
        ).first(),
    )


def agent_default_for(*, verification_type: str) -> AgentProfile | None:
    """The first active agent of a type: used when a transaction does not name one."""
    return readcache.cached(
        space=AGENT_CACHE_SPACE,
        key=f"default:{verification_type}",
        ttl=AGENT_CACHE_TTL,
        load=lambda: (
            AgentProfile.objects.filter(verification_type=verification_type, is_active=True)
            .select_related("organization")
            .order_by("id")
            .first()
        ),
    )


def agent_alternative_for(*, verification_type: str, exclude: int | None) -> Organization | None:
    """Another active agent organization of a type: the one with the fewest open tasks (then oldest)."""
    candidates = AgentProfile.objects.filter(
        verification_type=verification_type, is_active=True, organization__is_active=True
    )
    if exclude is not None:
        candidates = candidates.exclude(organization_id=exclude)
    profiles = list(candidates.select_related("organization").order_by("id"))
    if not profiles:
        return None
    load = dict(
        VerificationTask.objects.filter(
            agent_id__in=[p.organization_id for p in profiles], status__in=OPEN_TASK_STATUSES
        )
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values_list("agent_id", "n")
    )
    return min(profiles, key=lambda p: load.get(p.organization_id, 0)).organization


def agent_cache_invalidate(*, organization_id: int, verification_type: str) -> None:
    for key in (f"{organization_id}:{verification_type}", f"default:{verification_type}"):
        readcache.invalidate_on_commit(space=AGENT_CACHE_SPACE, key=key, ttl=AGENT_CACHE_TTL)
