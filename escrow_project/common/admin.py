"""Operator-console building blocks shared by every app's admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from escrow_project.common.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written only by their app's services: the console reads them and acts through actions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def decide_each(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    done: str,
    decide: Callable[[Any], Any],
) -> None:
    """A four-eyes decision per selected row; a refusal (say, deciding one's own request) is shown, not raised."""
    for row in queryset:
        try:
            decide(row)
            model_admin.message_user(request, f"{row}: {done}.", messages.SUCCESS)
        except DomainError as exc:
            model_admin.message_user(request, f"{row}: {exc.detail}", messages.ERROR)
