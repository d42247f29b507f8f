"""Operator console for verifications: read-only records; changes go through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from escrow_project.common.admin_masking import MaskedFieldsAdminMixin
from escrow_project.common.errors import DomainError
from verifications import services
from verifications.models import AgentProfile, VerificationReport, VerificationTask, VerificationWorkflow


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields] + [m.name for m in self.model._meta.many_to_many]


@admin.register(AgentProfile)
class AgentProfileAdmin(MaskedFieldsAdminMixin, admin.ModelAdmin[AgentProfile]):
    masked_fields = ("webhook_secret",)
    list_display = ["organization", "verification_type", "provider", "sandbox_outcome", "deadline_hours", "is_active"]
    list_filter = ["verification_type", "provider", "is_active"]


class TaskInline(admin.TabularInline[VerificationTask, VerificationWorkflow]):
    model = VerificationTask
    fields = ["verification_type", "status", "agent", "deadline", "attempt", "escalation_level"]
    readonly_fields = ["verification_type", "status", "agent", "deadline", "attempt", "escalation_level"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VerificationWorkflow)
class WorkflowAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "subject_type", "subject_id", "status", "created_at", "completed_at"]
    list_filter = ["status", "subject_type"]
    inlines = [TaskInline]


@admin.register(VerificationTask)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "verification_type", "status", "agent", "deadline", "attempt", "escalation_level"]
    list_filter = ["status", "verification_type"]
    actions = ["reassign_same_agent"]

    @admin.action(description="Reassign (new attempt, fresh deadline, same agent)")
    def reassign_same_agent(self, request: HttpRequest, queryset: QuerySet[VerificationTask]) -> None:
        for task in queryset:
            try:
                services.task_reassign(task_id=task.pk)
            except DomainError as exc:
                self.message_user(request, f"{task}: {exc.detail}", messages.ERROR)


@admin.register(VerificationReport)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "verification_type", "attempt", "passed", "source", "created_at"]
    list_filter = ["verification_type", "passed", "source"]
