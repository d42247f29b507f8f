"""Operator console for verifications: read-only records; changes go through services (confirmed buttons)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from escrow_project.common.admin import ConsoleAdmin, ReadOnlyAdmin, ReadOnlyInline, ReasonForm, object_action
from escrow_project.common.admin_masking import MaskedFieldsAdminMixin
from verifications import services
from verifications.models import AgentProfile, VerificationReport, VerificationTask, VerificationWorkflow
from verifications.states import OPEN_TASK_STATUSES, TaskStatus

# The states the reassign transition starts from; the service refuses the rest of what it must.
_REASSIGNABLE = {*OPEN_TASK_STATUSES, TaskStatus.FAILED, TaskStatus.REJECTED}


@admin.register(AgentProfile)
class AgentProfileAdmin(MaskedFieldsAdminMixin, ConsoleAdmin):
    masked_fields = ("webhook_secret",)
    list_display = ["organization", "verification_type", "provider", "sandbox_outcome", "deadline_hours", "is_active"]
    list_filter = ["verification_type", "provider", "is_active"]


class TaskInline(ReadOnlyInline):
    model = VerificationTask
    fields = ["verification_type", "status", "agent", "deadline", "attempt", "escalation_level"]
    readonly_fields = fields
    show_change_link = True


@admin.register(VerificationWorkflow)
class WorkflowAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "subject_type", "subject_id", "status", "created_at", "completed_at"]
    list_filter = ["status", "subject_type"]
    inlines = [TaskInline]


@admin.register(VerificationTask)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "verification_type", "status", "agent", "deadline", "attempt", "escalation_level"]
    list_filter = ["status", "verification_type"]
    object_actions = ["reassign_same_agent"]

    @object_action(
        label="Reassign (same agent)",
        describe=lambda t: (
            f"Start attempt {t.attempt + 1} of the {t.get_verification_type_display().lower()} with "
            f"{t.agent or 'the same agent'}, with a fresh deadline; the current attempt is abandoned."
        ),
        available=lambda t: t.status in _REASSIGNABLE,
    )
    def reassign_same_agent(self, request: HttpRequest, task: VerificationTask, form: ReasonForm) -> str:
        services.task_reassign(task_id=task.pk)
        return f"Task {task.public_id}: reassigned."


@admin.register(VerificationReport)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "verification_type", "attempt", "passed", "source", "created_at"]
    list_filter = ["verification_type", "passed", "source"]
