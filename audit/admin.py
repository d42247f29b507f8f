"""Operator console for the audit log: everything read-only (the log is append-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from audit.models import Anchor, AuditEvent, TreeHead


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "subject_type", "subject_id", "seq", "actor", "occurred_at", "leaf_index"]
    list_select_related = ["leaf"]
    list_filter = ["subject_type", "kind"]
    search_fields = ["subject_id", "event_hash", "request_id"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False  # a count(*) over millions of events on every page view is not free


@admin.register(TreeHead)
class TreeHeadAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "root_hash", "timestamp_ms", "created_at", "anchor_status"]
    list_select_related = ["anchor"]

    @admin.display(description="anchor")
    def anchor_status(self, obj: TreeHead) -> str:
        anchor = getattr(obj, "anchor", None)
        return anchor.status if anchor is not None else "not anchored"


@admin.register(Anchor)
class AnchorAdmin(ReadOnlyAdmin):
    list_display = ["tree_head", "status", "tx_hash", "block_number", "attempts", "lag", "created_at", "confirmed_at"]
    list_filter = ["status"]
    list_select_related = ["tree_head"]

    @admin.display(description="lag")
    def lag(self, obj: Anchor) -> str:
        """Time from sealing the tree head to its confirmation on chain (or until now)."""
        end = obj.confirmed_at or timezone.now()
        return str(end - obj.tree_head.created_at).split(".")[0]
