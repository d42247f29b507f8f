"""Every write to verification workflows, tasks and reports."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from prometheus_client import Counter, Histogram

from audit.services import event_record
from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import ConflictError, NotFoundError, PermissionDeniedError, UnprocessableError
from escrow_project.common.fsm import transition_run
from identity.models import Organization
from notifications.services import notification_fanout_enqueue
from notifications.types import Recipient
from verifications import selectors, signals
from verifications.agents.base import TransientAgentError
from verifications.agents.registry import provider_for
from verifications.models import (
    AgentProfile,
    ProviderKind,
    ReportSource,
    SandboxOutcome,
    VerificationReport,
    VerificationTask,
    VerificationWorkflow,
)
from verifications.states import DEPENDENCIES, OPEN_TASK_STATUSES, TaskStatus, VerificationType, WorkflowStatus

logger = structlog.get_logger(__name__)

TASKS_DECIDED = Counter(
    "verification_tasks_decided_total", "Verification tasks decided, by type and outcome", ["type", "outcome"]
)
TASKS_AUTO_REASSIGNED = Counter(
    "verification_tasks_auto_reassigned_total", "Overdue tasks given to another agent automatically", ["type"]
)
TASK_DURATION = Histogram(
    "verification_task_duration_seconds",
    "From assignment to decision, by type",
    ["type"],
    buckets=(1, 5, 30, 60, 300, 3600, 6 * 3600, 24 * 3600, 72 * 3600, 7 * 24 * 3600),
)


def _lock_task(task_id: int) -> VerificationTask:
    try:
        return VerificationTask.objects.select_for_update().select_related("workflow").get(pk=task_id)
    except VerificationTask.DoesNotExist:
        raise NotFoundError("No such verification task.") from None


def _signal_kwargs(task: VerificationTask) -> dict[str, Any]:
    return {
        "task_id": task.pk,
        "workflow_id": task.workflow_id,
        "subject_type": task.workflow.subject_type,
        "subject_id": task.workflow.subject_id,
        "verification_type": task.verification_type,
    }


def _audit(kind: str, task: VerificationTask, **payload: Any) -> None:
    """Verification events go on the subject's own audit chain, so its parties see them."""
    event_record(
        kind=kind,
        subject_type=task.workflow.subject_type,
        subject_id=task.workflow.subject_id,
        actor=f"organization:{task.agent.public_id}" if task.agent_id and task.agent else "system:verifications",
        payload={"task": str(task.public_id), "type": task.verification_type, "status": task.status, **payload},
    )


def _tell_agent(task: VerificationTask) -> None:
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


def _profile(task: VerificationTask) -> AgentProfile | None:
    if task.agent_id is None:
        return None
    return AgentProfile.objects.filter(organization_id=task.agent_id, verification_type=task.verification_type).first()


def _deadline_for(agent_id: int | None, verification_type: str) -> Any:
    profile = (
        AgentProfile.objects.filter(organization_id=agent_id, verification_type=verification_type).first()
        if agent_id is not None
        else None
    )
    hours = profile.deadline_hours if profile else settings.VERIFICATION_DEFAULT_DEADLINE_HOURS
    return timezone.now() + timedelta(hours=hours)


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
        task.deadline = _deadline_for(task.agent_id, task.verification_type)
        task.save()
        enqueue_on_commit(task_execute, task.pk)
        _audit("verification.assigned", task, deadline=task.deadline, attempt=task.attempt)
        _tell_agent(task)
        started.append(task)
        logger.info("verification_task_started", task=str(task.public_id), type=task.verification_type)
    return started


@transaction.atomic
def workflow_cancel(*, workflow_id: int) -> None:
    """Stop a workflow: late reports are refused and sandbox deliveries do nothing."""
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=workflow_id)
    if workflow.status in (WorkflowStatus.RUNNING, WorkflowStatus.BLOCKED):
        workflow.status = WorkflowStatus.CANCELLED
        workflow.save(update_fields=["status"])


@transaction.atomic
def task_execute(*, task_id: int) -> str:
    """Ask the task's agent to start work; sandbox agents schedule their report (Celery countdown)."""
    from verifications.tasks import sandbox_report_deliver

    task = _lock_task(task_id)
    if task.status != TaskStatus.ASSIGNED or task.workflow.status == WorkflowStatus.CANCELLED:
        return "skipped"  # a repeated or late message: the work already started or is moot
    profile = _profile(task)
    result = provider_for(task.verification_type).execute_verification(task=task, profile=profile)
    if result == "sandbox_scheduled" and profile is not None:
        task.begin()
        task.save()
        countdown = profile.sandbox_delay_seconds * settings.VERIFICATION_SANDBOX_DELAY_SCALE
        enqueue_on_commit(sandbox_report_deliver, task.pk, task.attempt, countdown=countdown)
    return result


def _payload_digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@transaction.atomic
def report_submit(
    *,
    task_id: int,
    payload: Any,
    source: str,
    agent_organization_id: int | None = None,
    submitted_by: Any = None,
    operator_reason: str = "",
) -> VerificationReport:
    """Validate a report strictly, decide the task and tell the subject; a repeat is a no-op.

    `agent_organization_id` None with `operator_reason` is an operator reporting in the agent's
    place; the audit event names the operator and the reason.
    """
    task = _lock_task(task_id)
    if agent_organization_id is not None and task.agent_id != agent_organization_id:
        raise NotFoundError("No such verification task.")  # not even its existence leaks
    existing = task.reports.filter(attempt=task.attempt).first()
    if existing is not None:
        if _payload_digest(existing.payload) == _payload_digest(payload):
            return existing  # a repeated callback: same report, no second effect
        raise ConflictError(
            "A report was already submitted for this task; ask for a reassignment to send another.",
            code="report_already_submitted",
        )
    if task.workflow.status == WorkflowStatus.CANCELLED:
        raise ConflictError("The verification workflow was cancelled.", code="workflow_cancelled")
    if task.status == TaskStatus.PENDING:
        raise ConflictError(
            "This task's dependencies are not verified yet; it cannot take a report.", code="dependencies_not_met"
        )
    if task.status not in OPEN_TASK_STATUSES:
        raise ConflictError(f"The task is {task.status}; it takes no report.", code="task_not_open")
    provider = provider_for(task.verification_type)
    decision = provider.validate_report(payload, context=task.workflow.context)
    report = VerificationReport.objects.create(
        task=task,
        attempt=task.attempt,
        verification_type=task.verification_type,
        payload=payload,
        passed=decision.passed,
        reasons=decision.reasons,
        source=source,
        submitted_by=submitted_by if getattr(submitted_by, "is_authenticated", False) else None,
    )
    task.submit()
    _audit(
        "verification.report_submitted",
        task,
        report=str(report.public_id),
        source=source,
        passed=decision.passed,
        **_on_behalf(submitted_by, agent_organization_id, operator_reason),
    )
    if decision.passed:
        task.verify()
    else:
        task.reject()
    task.save()
    _decided(task, "verified" if decision.passed else "rejected")
    return report


def _on_behalf(user: Any, agent_organization_id: int | None, operator_reason: str) -> dict[str, str]:
    """Audit fields for a step an operator took in the agent's place (none for the agent itself)."""
    if agent_organization_id is not None or not operator_reason:
        return {}
    return {"operator": f"user:{getattr(user, 'public_id', '')}", "operator_reason": operator_reason[:300]}


def _decided(task: VerificationTask, outcome: str) -> None:
    TASKS_DECIDED.labels(type=task.verification_type, outcome=outcome).inc()
    if task.assigned_at is not None:
        TASK_DURATION.labels(type=task.verification_type).observe((timezone.now() - task.assigned_at).total_seconds())
    logger.info("verification_decided", task=str(task.public_id), type=task.verification_type, outcome=outcome)
    _audit(f"verification.{outcome}", task, attempt=task.attempt, waived=task.waived, reason=task.failure_reason)
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=task.workflow_id)
    if outcome != "verified":
        workflow.status = WorkflowStatus.BLOCKED
        workflow.save(update_fields=["status"])
    signals.verification_decided.send(sender=VerificationTask, outcome=outcome, **_signal_kwargs(task))
    if outcome == "verified":
        if (
            workflow.status == WorkflowStatus.BLOCKED
            and not workflow.tasks.filter(status__in=[TaskStatus.REJECTED, TaskStatus.FAILED]).exists()
        ):
            workflow.status = WorkflowStatus.RUNNING  # the blocking task was waived or redone
            workflow.save(update_fields=["status"])
        workflow_advance(workflow_id=workflow.pk)
        if not workflow.tasks.exclude(status=TaskStatus.VERIFIED).exists():
            workflow.status = WorkflowStatus.PASSED
            workflow.completed_at = timezone.now()
            workflow.save(update_fields=["status", "completed_at"])
            signals.workflow_passed.send(
                sender=VerificationWorkflow,
                workflow_id=workflow.pk,
                subject_type=workflow.subject_type,
                subject_id=workflow.subject_id,
            )


def sandbox_report_deliver(*, task_id: int, attempt: int) -> str:
    """The sandbox agent sends its report (realistic, outcome as configured on its profile)."""
    with transaction.atomic():
        task = _lock_task(task_id)
        if task.attempt != attempt or task.status not in OPEN_TASK_STATUSES:
            return "skipped"
        if task.workflow.status == WorkflowStatus.CANCELLED:
            return "skipped"
        profile = _profile(task)
        if profile is None or profile.provider != ProviderKind.SANDBOX:
            return "skipped"
        # Counted in its own transaction so a transient failure below still counts as an attempt.
        task.execution_attempts += 1
        task.save(update_fields=["execution_attempts"])
    if profile.sandbox_outcome == SandboxOutcome.FLAKY and task.execution_attempts < 2:
        raise TransientAgentError("The sandbox agent's system is briefly unavailable.")
    with transaction.atomic():
        if profile.sandbox_outcome == SandboxOutcome.FAIL:
            task_fail(task_id=task.pk, reason="The sandbox agent is configured to fail.")
            return "failed"
        rng = random.Random(f"{task.public_id}:{task.attempt}")  # noqa: S311 - realistic demo data, not security
        passing = profile.sandbox_outcome != SandboxOutcome.REJECT
        payload = provider_for(task.verification_type).sandbox_report(
            context=task.workflow.context, passing=passing, rng=rng
        )
        report_submit(task_id=task.pk, payload=payload, source=ReportSource.SANDBOX)
    return "delivered"


@transaction.atomic
def task_fail(*, task_id: int, reason: str) -> VerificationTask:
    """The agent cannot do the work: the task fails and the subject is told."""
    task = _lock_task(task_id)
    transition_run(task, "fail")
    task.failure_reason = reason[:300]
    task.save()
    _decided(task, "failed")
    return task


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
    task = _lock_task(task_id)
    if agent_organization_id is not None and task.agent_id != agent_organization_id:
        raise NotFoundError("No such verification task.")
    if agent_organization_id is None and operator_reason:
        _audit("verification.status_set_by_operator", task, to=status, **_on_behalf(actor, None, operator_reason))
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


@transaction.atomic
def task_reassign(*, task_id: int, agent: Organization | None = None) -> VerificationTask:
    """Start a new attempt with another agent (or the same one), with a fresh deadline."""
    from verifications.tasks import task_execute as task_execute_job

    task = _lock_task(task_id)
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
    task.deadline = _deadline_for(task.agent_id, task.verification_type)
    task.escalation_level = 0
    task.escalated_at = None
    task.failure_reason = ""
    task.save()
    _audit("verification.reassigned", task, attempt=task.attempt)
    _tell_agent(task)
    if was_blocking:
        workflow = VerificationWorkflow.objects.select_for_update().get(pk=task.workflow_id)
        if workflow.status == WorkflowStatus.BLOCKED:
            workflow.status = WorkflowStatus.RUNNING
            workflow.save(update_fields=["status"])
    enqueue_on_commit(task_execute_job, task.pk)
    return task


@transaction.atomic
def task_waive(*, task_id: int) -> VerificationTask:
    """The parties accept a rejected report; the task counts as verified and dependents start."""
    task = _lock_task(task_id)
    transition_run(task, "waive")
    task.save()
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=task.workflow_id)
    if workflow.status == WorkflowStatus.BLOCKED:
        workflow.status = WorkflowStatus.RUNNING
        workflow.save(update_fields=["status"])
    _decided(task, "verified")
    return task


@transaction.atomic
def workflow_context_update(*, workflow_id: int, changes: dict[str, Any]) -> VerificationWorkflow:
    """New facts for agents (e.g. a renegotiated price); later reports are judged against them."""
    workflow = VerificationWorkflow.objects.select_for_update().get(pk=workflow_id)
    workflow.context = {**workflow.context, **changes}
    workflow.save(update_fields=["context"])
    return workflow


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
    task = _lock_task(task_id)
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
        _audit("verification.reassign_unavailable", task, agent=str(previous.public_id) if previous else None)
        logger.warning("verification_reassign_unavailable", task=str(task.public_id), type=task.verification_type)
        return 0
    task = task_reassign(task_id=task.pk, agent=replacement)
    _audit(
        "verification.auto_reassigned",
        task,
        previous_agent=str(previous.public_id) if previous else None,
        agent=str(replacement.public_id),
        attempt=task.attempt,
    )
    TASKS_AUTO_REASSIGNED.labels(type=task.verification_type).inc()
    logger.info("verification_auto_reassigned", task=str(task.public_id), type=task.verification_type)
    signals.verification_overdue.send(sender=VerificationTask, level=3, **_signal_kwargs(task))
    return 1


@transaction.atomic
def _escalate_one(*, task_id: int, now: Any, level: int) -> int:
    task = _lock_task(task_id)
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
    _audit("verification.overdue", task, escalation_level=level)
    signals.verification_overdue.send(sender=VerificationTask, level=level, **_signal_kwargs(task))
    return 1


def agent_for_webhook(*, organization_public_id: Any) -> Organization:
    organization = Organization.objects.filter(public_id=organization_public_id, is_active=True).first()
    if organization is None or not AgentProfile.objects.filter(organization=organization).exists():
        raise PermissionDeniedError("Unknown agent.", code="unknown_agent")
    return organization
