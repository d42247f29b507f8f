from __future__ import annotations

from typing import Any

from rest_framework import serializers

from endorsements.models import Batch, BatchRow, EndorsementRequest
from escrow_project.common.amounts import MoneyField


class EndorsementRequestSerializer(serializers.ModelSerializer[EndorsementRequest]):
    policy_number = serializers.CharField(source="policy.policy_number")
    member = serializers.UUIDField(source="member.public_id")
    # The employer's own id for the member (as submitted): what an insurer's statement names.
    member_id = serializers.CharField(source="member.member_id", read_only=True)
    batch = serializers.SerializerMethodField()
    amount = MoneyField()
    settled_amount = MoneyField(allow_null=True)

    class Meta:
        model = EndorsementRequest
        fields = [
            "tracking_id",
            "state",
            "kind",
            "policy_number",
            "member",
            "member_id",
            "plan",
            "new_plan",
            "effective_date",
            "direction",
            "amount",
            "currency",
            "settled_amount",
            "source",
            "batch",
            "batch_row",
            "insurer_reference",
            "rejection_reason",
            "created_at",
            "sent_at",
            "confirmed_at",
            "activated_at",
        ]

    def get_batch(self, obj: EndorsementRequest) -> str | None:
        return str(obj.batch.public_id) if obj.batch is not None else None


class BatchSerializer(serializers.ModelSerializer[Batch]):
    id = serializers.UUIDField(source="public_id")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id",
            "status",
            "file_name",
            "file_format",
            "file_size",
            "rows_total",
            "rows_accepted",
            "rows_rejected",
            "rows_duplicate",
            "progress",
            "error",
            "warnings",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_progress(self, obj: Batch) -> dict[str, Any]:
        return {
            "rows_done": obj.rows_processed,
            "rows_total": obj.rows_total,
            "percent": obj.percent_done,
            "accepted": obj.rows_accepted,
            "rejected": obj.rows_rejected,
            "duplicate": obj.rows_duplicate,
        }


class BatchRowSerializer(serializers.ModelSerializer[BatchRow]):
    row = serializers.IntegerField(source="row_number")

    class Meta:
        model = BatchRow
        fields = ["row", "outcome", "tracking_id", "original_tracking_id", "errors"]
