"""Verification workflows (a DAG of tasks with deadlines), agents and their reports.

A workflow names its subject generically (`subject_type`, `subject_id`) so this app never points
up the ladder; the escrow transaction holds the foreign key to its workflow.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_fsm import FSMField

from escrow_project.common.crypto.fields import EncryptedTextField
from identity.models import Organization
from verifications.states import (
    TaskStatus,
    VerificationTaskTransitions,
    VerificationType,
    VerificationWorkflowStateMachine,
)


class ProviderKind(models.TextChoices):
    SANDBOX = "sandbox", "Built-in sandbox agent"
    PARTNER = "partner", "Partner system (API or signed webhook)"


class SandboxOutcome(models.TextChoices):
    PASS = "pass", "Produce a passing report"
    REJECT = "reject", "Produce a report that fails the rules"
    FLAKY = "flaky", "Fail transiently, then pass"
    FAIL = "fail", "Fail terminally"


class AgentProfile(models.Model):
    """An organization that performs one verification type, and how it delivers reports."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="agent_profiles")
    verification_type = models.CharField(max_length=16, choices=VerificationType.choices)
    provider = models.CharField(max_length=16, choices=ProviderKind.choices, default=ProviderKind.SANDBOX)
    # Shared secret for HMAC-signed webhooks from the partner's system.
    webhook_secret = EncryptedTextField(blank=True, default="")
    sandbox_delay_seconds = models.PositiveIntegerField(default=2)
    sandbox_outcome = models.CharField(max_length=8, choices=SandboxOutcome.choices, default=SandboxOutcome.PASS)
    deadline_hours = models.PositiveIntegerField(default=72)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "verification_type"], name="agent_profile_unique_type"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} ({self.get_verification_type_display()})"


class VerificationWorkflow(VerificationWorkflowStateMachine):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64)
    context = models.JSONField(default=dict, blank=True, help_text="What agents need: address, price, loan.")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject_type", "subject_id"], name="workflow_unique_subject"),
        ]

    def __str__(self) -> str:
        return f"Workflow {self.public_id} for {self.subject_type}:{self.subject_id}"


class VerificationTask(VerificationTaskTransitions, models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workflow = models.ForeignKey(VerificationWorkflow, on_delete=models.CASCADE, related_name="tasks")
    verification_type = models.CharField(max_length=16, choices=VerificationType.choices)
    status = FSMField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING, protected=True)
    depends_on = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)
    agent = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    deadline = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    execution_attempts = models.PositiveIntegerField(default=0)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    waived = models.BooleanField(default=False)
    failure_reason = models.CharField(max_length=300, blank=True, default="")
    assigned_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "verification_type"], name="task_unique_type_per_workflow"),
        ]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return f"{self.get_verification_type_display()} [{self.status}]"


class ReportSource(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox agent"
    API = "api", "API"
    WEBHOOK = "webhook", "Signed webhook"


class VerificationReport(models.Model):
    """What an agent delivered for one attempt of a task. One report per attempt."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    task = models.ForeignKey(VerificationTask, on_delete=models.CASCADE, related_name="reports")
    attempt = models.PositiveIntegerField()
    verification_type = models.CharField(max_length=16, choices=VerificationType.choices)
    payload = models.JSONField()
    passed = models.BooleanField()
    reasons = models.JSONField(default=list, blank=True, help_text="Why the rules failed, when they did.")
    source = models.CharField(max_length=16, choices=ReportSource.choices)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "attempt"], name="report_one_per_attempt"),
        ]

    def __str__(self) -> str:
        return f"Report {self.public_id} ({'passed' if self.passed else 'failed'})"
