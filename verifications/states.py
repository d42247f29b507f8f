"""Lifecycle of a verification task and of a workflow, top to bottom in one file.

A transition changes only its own row; services lock, transition, save and do the rest.
Guards carry their refusal reason in the docstring (see escrow_project.common.fsm).

    pending -> assigned -> in_progress -> submitted -> verified
                  |            |              \\-> rejected -> verified (waived) | assigned (reassigned)
                  \\-> overdue <-/   failed <- (assigned | in_progress | overdue)
    overdue | failed | assigned | in_progress -> assigned (reassigned to another agent)

A workflow:

    running | blocked -> cancelled
    any -> blocked (a task was rejected or failed)
    blocked -> running (the blocking task was waived or reassigned)
    any -> passed (every task verified)
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

from escrow_project.common.fsm import ProtectedStateModel


class VerificationType(models.TextChoices):
    TITLE = "title", "Title search"
    INSPECTION = "inspection", "Home inspection"
    APPRAISAL = "appraisal", "Appraisal"
    LENDING = "lending", "Lending (clear to close)"


# Which types each type waits for. Title and inspection start at once; appraisal waits for the
# inspection (an appraiser values the house as inspected); lending needs title and appraisal.
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    VerificationType.TITLE: (),
    VerificationType.INSPECTION: (),
    VerificationType.APPRAISAL: (VerificationType.INSPECTION,),
    VerificationType.LENDING: (VerificationType.TITLE, VerificationType.APPRAISAL),
}


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending (waiting for dependencies)"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Report submitted"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    OVERDUE = "overdue", "Overdue"


OPEN_TASK_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE)


class WorkflowStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PASSED = "passed", "All verified"
    BLOCKED = "blocked", "Blocked by a rejected or failed task"
    CANCELLED = "cancelled", "Cancelled"


def _dependencies_verified(task: Any) -> bool:
    """The tasks this one depends on are not all verified yet."""
    return all(dep.status == TaskStatus.VERIFIED for dep in task.depends_on.all())


def _has_agent(task: Any) -> bool:
    """No agent is assigned to this task."""
    return task.agent_id is not None


class VerificationTaskTransitions:
    """Mixed into VerificationTask; `status` is its FSMField."""

    agent_id: int | None
    assigned_at: Any
    started_at: Any
    submitted_at: Any
    decided_at: Any
    waived: bool
    attempt: int

    @transition(field="status", source=TaskStatus.PENDING, target=TaskStatus.ASSIGNED,
                conditions=[_dependencies_verified, _has_agent])  # fmt: skip
    def start(self) -> None:
        """Dependencies met: hand the task to its agent."""
        self.assigned_at = timezone.now()

    @transition(field="status", source=TaskStatus.ASSIGNED, target=TaskStatus.IN_PROGRESS)
    def begin(self) -> None:
        """The agent acknowledged and began work."""
        self.started_at = timezone.now()

    @transition(field="status", source=list(OPEN_TASK_STATUSES), target=TaskStatus.SUBMITTED)
    def submit(self) -> None:
        """A report arrived and passed schema validation."""
        self.submitted_at = timezone.now()

    @transition(field="status", source=TaskStatus.SUBMITTED, target=TaskStatus.VERIFIED)
    def verify(self) -> None:
        """The report's findings satisfy the rules of its type."""
        self.decided_at = timezone.now()

    @transition(field="status", source=TaskStatus.SUBMITTED, target=TaskStatus.REJECTED)
    def reject(self) -> None:
        """The report's findings fail the rules of its type (e.g. title not clear)."""
        self.decided_at = timezone.now()

    @transition(field="status", source=TaskStatus.REJECTED, target=TaskStatus.VERIFIED)
    def waive(self) -> None:
        """The parties accept the rejected findings and go on."""
        self.waived = True
        self.decided_at = timezone.now()

    @transition(field="status", source=[TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS], target=TaskStatus.OVERDUE)
    def mark_overdue(self) -> None:
        """The deadline passed without a report."""

    @transition(field="status", source=list(OPEN_TASK_STATUSES), target=TaskStatus.FAILED)
    def fail(self) -> None:
        """The agent could not perform the verification (terminal after retries)."""
        self.decided_at = timezone.now()

    @transition(field="status", source=[*OPEN_TASK_STATUSES, TaskStatus.FAILED, TaskStatus.REJECTED],
                target=TaskStatus.ASSIGNED, conditions=[_has_agent])  # fmt: skip
    def reassign(self) -> None:
        """Start a new attempt, with the same or another agent."""
        self.attempt += 1
        self.assigned_at = timezone.now()
        self.started_at = None
        self.submitted_at = None
        self.decided_at = None


class VerificationWorkflowStateMachine(ProtectedStateModel):
    """Mixed into VerificationWorkflow: the status field and its transitions.

    `block` and `complete` accept any source, as the assignments they replaced did: a task failed or
    waived after its workflow was cancelled still moves the workflow (services do not check it).
    """

    status = FSMField(max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.RUNNING, protected=True)
    completed_at: Any

    class Meta:
        abstract = True

    @transition(field=status, source=[WorkflowStatus.RUNNING, WorkflowStatus.BLOCKED], target=WorkflowStatus.CANCELLED)
    def cancel(self) -> None:
        """Stopped: late reports are refused and sandbox deliveries do nothing."""

    @transition(field=status, source="*", target=WorkflowStatus.BLOCKED)
    def block(self) -> None:
        """A task was rejected or failed; nothing after it starts."""

    @transition(field=status, source=WorkflowStatus.BLOCKED, target=WorkflowStatus.RUNNING)
    def resume(self) -> None:
        """The blocking task was waived or handed out again."""

    @transition(field=status, source="*", target=WorkflowStatus.PASSED)
    def complete(self) -> None:
        """Every task is verified."""
        self.completed_at = timezone.now()
