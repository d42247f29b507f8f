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


class SecondPersonActions:
    """Confirm and reject actions for requests that wait for a second person (four eyes): the admin
    names the two service calls; a refusal (say, deciding one's own request) is shown, not raised."""

    actions: Any = ["confirm", "reject"]
    confirmed_message = "confirmed"

    def confirm_one(self, request: HttpRequest, row: Any) -> None:
        raise NotImplementedError

    def reject_one(self, request: HttpRequest, row: Any) -> None:
        raise NotImplementedError

    @admin.action(description="Confirm the selected requests (as the second person)")
    def confirm(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(request, queryset, self.confirmed_message, self.confirm_one)

    @admin.action(description="Reject the selected requests")
    def reject(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(request, queryset, "rejected", self.reject_one)

    def _each(self, request: HttpRequest, queryset: QuerySet[Any], done: str, decide: Callable[..., object]) -> None:
        for row in queryset:
            try:
                decide(request, row)
                self.message_user(request, f"{row}: {done}.", messages.SUCCESS)  # type: ignore[attr-defined]
            except DomainError as exc:
                self.message_user(request, f"{row}: {exc.detail}", messages.ERROR)  # type: ignore[attr-defined]
