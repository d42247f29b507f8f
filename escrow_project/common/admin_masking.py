"""Operator console masking: personal fields show masked; one value is revealed on request, audited.

    @admin.register(Employee)
    class EmployeeAdmin(MaskedFieldsAdminMixin, admin.ModelAdmin[Employee]):
        masked_fields = ("first_name", "last_name", "date_of_birth", "national_id")
        list_display = ["public_id", "first_name", "employer"]      # first_name shows masked

Masked fields show masked in the changelist and read-only (masked) on the change page, with a
"reveal" link. Revealing is a POST (CSRF-protected) by a user who `can_reveal`, answered with
`Cache-Control: no-store`, and calls `on_reveal` — the hook where the audit trail is written.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from prometheus_client import Counter

from escrow_project.common.signals import personal_value_revealed

logger = structlog.get_logger(__name__)

MASKED_PREFIX = "masked_"
REVEALS = Counter("admin_personal_value_reveals_total", "Personal values revealed in the operator console.")


def mask_value(value: Any) -> str:
    """A hint of the value (enough to tell two apart), never enough to use it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "****-**-**"
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    if len(text) <= 4:
        return "*" * len(text)
    if any(ch.isdigit() for ch in text):
        return "*" * min(len(text) - 2, 8) + text[-2:]
    return text[:1] + "***"


class MaskedFieldsAdminMixin:
    """Mix into a ModelAdmin before `admin.ModelAdmin`; list personal fields in `masked_fields`."""

    masked_fields: Sequence[str] = ()
    model: Any
    admin_site: Any

    # --- hooks ----------------------------------------------------------------------------
    def can_reveal(self, request: HttpRequest, obj: Any) -> bool:
        """Who may reveal: active staff who may change the object. Apps may narrow it (operators only)."""
        user: Any = request.user
        has_change: Callable[..., bool] = self.has_change_permission
        return bool(user.is_active and user.is_staff and has_change(request, obj))

    def on_reveal(self, request: HttpRequest, obj: Any, field_name: str) -> None:
        """Record the reveal: a log line, a counter, and `personal_value_revealed` for the audit app."""
        personal_value_revealed.send(sender=type(obj), instance=obj, field_name=field_name, operator=request.user)
        REVEALS.inc()
        logger.info(
            "personal_value_revealed",
            model=obj._meta.label_lower,
            object_pk=str(obj.pk),
            field=field_name,
            operator_id=getattr(request.user, "pk", None),
        )

    # --- masking --------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # `masked_<field>` names resolve to display callables, so list_display and fieldsets can use them.
        if name.startswith(MASKED_PREFIX) and name[len(MASKED_PREFIX) :] in type(self).masked_fields:
            return self._masked_display(name[len(MASKED_PREFIX) :])
        raise AttributeError(name)

    def _masked_display(self, field_name: str) -> Callable[[Any], str]:
        label = self.model._meta.get_field(field_name).verbose_name

        @admin.display(description=str(label).capitalize())
        def display(obj: Any) -> str:
            masked = mask_value(getattr(obj, field_name))
            if obj.pk is None or getattr(obj, field_name) in (None, ""):
                return masked
            url = reverse(
                f"{self.admin_site.name}:{self._reveal_url_name()}",
                kwargs={"object_id": obj.pk, "field_name": field_name},
            )
            return format_html('{} <a href="{}" class="reveal-link">reveal</a>', masked, url)

        return display

    def _swap(self, names: Sequence[Any]) -> list[Any]:
        swapped: list[Any] = []
        for name in names:
            name = f"{MASKED_PREFIX}{name}" if isinstance(name, str) and name in self.masked_fields else name
            if name not in swapped:
                swapped.append(name)
        return swapped

    def get_list_display(self, request: HttpRequest) -> Any:
        return self._swap(super().get_list_display(request))  # type: ignore[misc]

    def get_search_fields(self, request: HttpRequest) -> Any:
        # A search over ciphertext finds nothing and is refused by the field: drop masked fields.
        fields = super().get_search_fields(request)  # type: ignore[misc]
        return [f for f in fields if f.lstrip("^=@") not in self.masked_fields]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if obj is None:
            return fieldsets  # the add page: the operator types the values in
        return [(title, {**opts, "fields": self._swap(opts["fields"])}) for title, opts in fieldsets]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        if obj is None:
            return readonly
        return readonly + [f"{MASKED_PREFIX}{n}" for n in self.masked_fields]

    # --- reveal ---------------------------------------------------------------------------
    def _reveal_url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_reveal"

    def get_urls(self) -> list[URLPattern]:
        urls: list[URLPattern] = super().get_urls()  # type: ignore[misc]
        reveal = path(
            "<path:object_id>/reveal/<str:field_name>/",
            self.admin_site.admin_view(self.reveal_view),
            name=self._reveal_url_name(),
        )
        return [reveal, *urls]

    def reveal_view(self, request: HttpRequest, object_id: str, field_name: str) -> HttpResponse:
        if field_name not in self.masked_fields:
            raise Http404("No such masked field.")
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("No such object.")
        if not self.can_reveal(request, obj):
            raise PermissionDenied
        revealed = request.method == "POST"
        if revealed:
            self.on_reveal(request, obj, field_name)
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": "Reveal a personal value",
            "object_label": str(obj),
            "field_label": opts.get_field(field_name).verbose_name,
            "revealed": revealed,
            "value": getattr(obj, field_name) if revealed else "",
            "back_url": reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, "admin/common/reveal.html", context)
        response["Cache-Control"] = "no-store"
        return response
