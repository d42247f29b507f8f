from __future__ import annotations

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from verifications import selectors
from verifications.models import VerificationReport, VerificationTask


class ReportSerializer(serializers.ModelSerializer[VerificationReport]):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = VerificationReport
        fields = ["id", "attempt", "verification_type", "payload", "passed", "reasons", "source", "created_at"]


class TaskSerializer(serializers.ModelSerializer[VerificationTask]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    agent = serializers.SerializerMethodField()
    depends_on = serializers.SerializerMethodField()
    subject_type = serializers.CharField(source="workflow.subject_type", read_only=True)
    subject_id = serializers.CharField(source="workflow.subject_id", read_only=True)
    workflow_context = serializers.JSONField(source="workflow.context", read_only=True)
    latest_report = serializers.SerializerMethodField()

    class Meta:
        model = VerificationTask
        fields = [
            "id",
            "verification_type",
            "status",
            "agent",
            "depends_on",
            "deadline",
            "attempt",
            "waived",
            "escalation_level",
            "failure_reason",
            "assigned_at",
            "submitted_at",
            "decided_at",
            "subject_type",
            "subject_id",
            "workflow_context",
            "latest_report",
        ]

    def get_agent(self, task: VerificationTask) -> dict[str, str] | None:
        if task.agent is None:
            return None
        return {"id": str(task.agent.public_id), "name": task.agent.name}

    def get_depends_on(self, task: VerificationTask) -> list[str]:
        return [dep.verification_type for dep in task.depends_on.all()]

    @extend_schema_field(ReportSerializer(allow_null=True))
    def get_latest_report(self, task: VerificationTask) -> dict[str, object] | None:
        report = selectors.task_latest_report(task=task)
        return dict(ReportSerializer(report).data) if report else None


class ReportInSerializer(serializers.Serializer):
    report = serializers.JSONField()
    operator_reason = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default="", help_text="required when an operator reports"
    )


class AgentStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "Work began"
    FAILED = "failed", "Cannot perform the verification"


class WebhookEvent(models.TextChoices):
    REPORT = "report.submitted", "A report"
    STATUS = "status.updated", "A status update"


class StatusInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    operator_reason = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default="", help_text="required when an operator sets it"
    )


class WebhookInSerializer(serializers.Serializer):
    task = serializers.UUIDField()
    event = serializers.ChoiceField(choices=WebhookEvent.choices)
    report = serializers.JSONField(required=False)
    status = serializers.ChoiceField(choices=AgentStatus.choices, required=False)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
