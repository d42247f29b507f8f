"""Operator console for the audit log: everything read-only (the log is append-only).

An event's subject links to the subject's own console page (resolved through the registry the
owning apps fill, `escrow_project.common.admin.register_subject`), and its actor shows as the
person's username, linked to them, instead of a raw id.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import display
from unfold.views import ChangeList

from audit.models import Anchor, AuditEvent, TreeHead
from escrow_project.common.admin import (
    ReadOnlyAdmin,
    actor_link,
    actor_users,
    register_subject,
    subject_admin_url,
    subject_admin_urls,
)
from escrow_project.common.display import format_when
from identity.models import Organization

register_subject("identity_organization", Organization, "public_id")


class _EventChangeList(ChangeList):
    def get_results(self, request: Any) -> None:
        super().get_results(request)
        # A page of events resolves its actors and subjects in a few queries, not two per row.
        events = list(self.result_list)
        actors = actor_users(e.actor for e in events)
        urls = subject_admin_urls(((e.subject_type, e.subject_id) for e in events), self.model_admin.admin_site)
        for event in events:
            event._console_actors = actors
            event._console_subject_url = urls.get((event.subject_type, event.subject_id))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "subject", "seq", "who", "when", "reason", "leaf_index"]
    list_select_related = ["leaf"]
    list_filter = ["subject_type", "kind"]
    search_fields = ["subject_id", "event_hash", "request_id"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False  # a count(*) over millions of events on every page view is not free
    readonly_fields = ["subject", "who", "when", "reason"]

    def get_fields(self, request: Any, obj: Any = None) -> Any:
        fields = [f.name for f in AuditEvent._meta.fields]
        return ["subject", "who", "when", "reason", *fields]

    def get_changelist(self, request: Any, **kwargs: Any) -> Any:
        return _EventChangeList

    @display(description="subject")
    def subject(self, obj: AuditEvent) -> str:
        url = getattr(obj, "_console_subject_url", None)
        if not hasattr(obj, "_console_subject_url"):
            url = subject_admin_url(obj.subject_type, obj.subject_id, self.admin_site)
        text = f"{obj.subject_type} {obj.subject_id}"
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    @display(description="actor")
    def who(self, obj: AuditEvent) -> str:
        return actor_link(obj.actor, self.admin_site, getattr(obj, "_console_actors", None))

    @display(description="occurred")
    def when(self, obj: AuditEvent) -> str:
        return format_when(obj.occurred_at)

    @display(description="reason")
    def reason(self, obj: AuditEvent) -> str:
        payload = obj.payload if isinstance(obj.payload, dict) else {}
        return str(payload.get("reason") or "")[:120]


@admin.register(TreeHead)
class TreeHeadAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "root_hash", "timestamp_ms", "created_at", "anchor_status"]
    list_select_related = ["anchor"]

    @display(description="anchor")
    def anchor_status(self, obj: TreeHead) -> str:
        anchor = getattr(obj, "anchor", None)
        return anchor.status if anchor is not None else "not anchored"


@admin.register(Anchor)
class AnchorAdmin(ReadOnlyAdmin):
    list_display = ["tree_head", "status", "tx_hash", "block_number", "attempts", "lag", "created_at", "confirmed_at"]
    list_filter = ["status"]
    list_select_related = ["tree_head"]

    @display(description="lag")
    def lag(self, obj: Anchor) -> str:
        """Time from sealing the tree head to its confirmation on chain (or until now)."""
        end = obj.confirmed_at or timezone.now()
        return str(end - obj.tree_head.created_at).split(".")[0]
