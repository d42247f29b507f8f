"""Operators upload an insurer's statement: the monthly CSV or an 834 full-file audit (030).

The run, its lines and breaks are then read and worked through the ledger's reconciliation API
(/api/v1/ledger/reconciliation/...). The same file again answers with its first run (200, not 201).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from endorsements.services.reconciliation import insurer_audit_import, insurer_statement_import
from escrow_project.common.errors import NotFoundError, UnprocessableError
from escrow_project.common.idempotency import idempotent
from escrow_project.common.parsers import StrictFormParser, StrictMultiPartParser
from identity.models import Organization, OrganizationKind
from identity.permissions import IsOperator


class StatementUploadSerializer(serializers.Serializer[Any]):
    insurer = serializers.UUIDField()
    format = serializers.ChoiceField(choices=["statement_csv", "audit_834"], default="statement_csv")
    period_start = serializers.DateField(required=False)
    period_end = serializers.DateField(required=False)
    tolerance = serializers.DecimalField(max_digits=20, decimal_places=4, min_value=0, required=False)
    currency = serializers.CharField(max_length=3, required=False)
    file = serializers.FileField()


class StatementUploadView(APIView):
    permission_classes = [IsOperator]
    parser_classes = [StrictMultiPartParser, StrictFormParser]
    max_request_bytes_setting = "ENDORSEMENTS_BATCH_MAX_BYTES"

    @extend_schema(
        request={"multipart/form-data": StatementUploadSerializer},
        responses={201: dict[str, Any], 200: dict[str, Any]},
        summary="Operator: reconcile an insurer's statement (CSV, docs/decisions/0103) or 834 audit file",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        body = StatementUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        insurer = Organization.objects.filter(public_id=data["insurer"], kind=OrganizationKind.INSURER).first()
        if insurer is None:
            raise NotFoundError("No such insurer.")
        upload, actor = data["file"], f"user:{request.user.pk}"
        if data["format"] == "audit_834":
            if not data.get("currency"):
                raise UnprocessableError("An 834 audit needs the policies' currency.", code="currency_required")
            run, created = insurer_audit_import(insurer=insurer, handle=upload.file, currency=data["currency"].upper(),
                                                file_name=upload.name, actor=actor)  # fmt: skip
        else:
            if not (data.get("period_start") and data.get("period_end")):
                raise UnprocessableError("A monthly statement needs period_start and period_end.",
                                         code="period_required")  # fmt: skip
            run, created = insurer_statement_import(
                insurer=insurer, handle=upload.file, period_start=data["period_start"], period_end=data["period_end"],
                tolerance=data.get("tolerance"), file_name=upload.name, actor=actor,
            )  # fmt: skip
        answer = {
            "run": str(run.public_id),
            "lines": run.line_count,
            "breaks": run.break_count,
            "summary": run.summary,
            "location": f"/api/v1/ledger/reconciliation/runs/{run.public_id}/",
        }
        return Response(answer, status=201 if created else 200, headers={"Location": answer["location"]})
