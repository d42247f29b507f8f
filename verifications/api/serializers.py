from __future__ import annotations

from rest_framework import serializers

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

    def get_latest_report(self, task: VerificationTask) -> dict[str, object] | None:
        report = task.reports.order_by("-attempt").first()
        return dict(ReportSerializer(report).data) if report else None


class ReportInSerializer(serializers.Serializer):
    report = serializers.JSONField()


class StatusInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["in_progress", "failed"])
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class WebhookInSerializer(serializers.Serializer):
    task = serializers.UUIDField()
    event = serializers.ChoiceField(choices=["report.submitted", "status.updated"])
    report = serializers.JSONField(required=False)
    status = serializers.ChoiceField(choices=["in_progress", "failed"], required=False)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
