from __future__ import annotations

import json
from typing import Any, cast

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from endorsements import selectors
from endorsements.api.schema import BATCH_FORMATS_DESCRIPTION, BATCH_UPLOAD_ANSWERS, ENDORSEMENT_REQUEST_SCHEMA
from endorsements.api.serializers import BatchRowSerializer, BatchSerializer, EndorsementRequestSerializer
from endorsements.hooks import SUBJECT_TYPE
from endorsements.models import BatchRow, EndorsementRequest
from endorsements.services.batches import batch_upload
from endorsements.services.intake import endorsement_submit
from escrow_project.common.csv_safe import csv_response
from escrow_project.common.errors import NotFoundError, UnprocessableError
from escrow_project.common.idempotency import idempotent
from escrow_project.common.pagination import LinkHeaderPagination
from escrow_project.common.parsers import StrictFormParser, StrictMultiPartParser


class EndorsementListCreateView(ListAPIView[EndorsementRequest]):
    permission_classes = [IsAuthenticated]
    serializer_class = EndorsementRequestSerializer

    def get_queryset(self) -> Any:
        qs = selectors.request_list_for_user(user=self.request.user)
        state = self.request.query_params.get("state")
        if state:
            qs = qs.filter(state=state)
        return qs.order_by("-created_at", "-pk")

    @extend_schema(
        request={"application/json": ENDORSEMENT_REQUEST_SCHEMA},
        responses={201: EndorsementRequestSerializer},
        summary="Submit one endorsement (add, remove or change a covered person)",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise UnprocessableError("Send one endorsement as a JSON object.", code="invalid_body")
        data = dict(request.data)
        employer = selectors.employer_for_user(user=request.user, employer_public_id=data.pop("employer", None))
        created = endorsement_submit(employer=employer, data=data, actor=f"user:{request.user.pk}")
        return Response(EndorsementRequestSerializer(created).data, status=status.HTTP_201_CREATED)


class EndorsementDetailView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = EndorsementRequestSerializer

    def get(self, request: Request, tracking_id: str) -> Response:
        obj = selectors.request_get_for_user(user=request.user, tracking_id=tracking_id)
        return Response(EndorsementRequestSerializer(obj).data)


class BatchUploadView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [StrictMultiPartParser, StrictFormParser]
    # Bodies over it are refused on Content-Length before they are read (escrow_project.common.api_guard).
    max_request_bytes_setting = "ENDORSEMENTS_BATCH_MAX_BYTES"
    serializer_class = BatchSerializer

    @extend_schema(
        request={
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        responses={202: BatchSerializer, 200: BatchSerializer},
        summary="Upload a batch of endorsements (CSV, JSON or X12 834)",
        description=BATCH_FORMATS_DESCRIPTION + BATCH_UPLOAD_ANSWERS,
    )
    @idempotent
    def post(self, request: Request) -> Response:
        employer = selectors.employer_for_user(
            user=request.user, employer_public_id=cast(Any, request.data).get("employer")
        )
        upload = request.FILES.get("file")
        if upload is None:
            raise UnprocessableError("Attach the file as the multipart field `file`.", code="file_required")
        uploaded = batch_upload(employer=employer, user=request.user, upload=upload)  # type: ignore[arg-type]
        batch = uploaded.batch
        body = {**BatchSerializer(batch).data, "repeated": uploaded.repeated}
        location = f"/api/v1/endorsements/batches/{batch.public_id}"
        # The same file again is not a new batch: 200 with the first upload's batch.
        code = status.HTTP_200_OK if uploaded.repeated else status.HTTP_202_ACCEPTED
        return Response(body, status=code, headers={"Location": location})


class BatchDetailView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = BatchSerializer

    def get(self, request: Request, batch_id: str) -> Response:
        batch = selectors.batch_get_for_user(user=request.user, public_id=batch_id)
        return Response(BatchSerializer(batch).data)


class BatchRowsView(ListAPIView[BatchRow]):
    permission_classes = [IsAuthenticated]
    serializer_class = BatchRowSerializer

    def get_queryset(self) -> Any:
        batch = selectors.batch_get_for_user(user=self.request.user, public_id=self.kwargs["batch_id"])
        return selectors.batch_rows(batch=batch, outcome=self.request.query_params.get("outcome"))


class BatchRowsCsvView(APIView):
    """Row results as CSV; every cell is defused against spreadsheet formula injection."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, batch_id: str) -> StreamingHttpResponse:
        batch = selectors.batch_get_for_user(user=request.user, public_id=batch_id)
        header, lines = selectors.batch_rows_csv(batch=batch, outcome=request.query_params.get("outcome"))
        return csv_response(f"batch-{batch.public_id}-results.csv", header, lines)


class AuditTrailEventSerializer(serializers.Serializer[Any]):
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    event_hash = serializers.CharField()
    payload = serializers.JSONField()


class AuditFilterSerializer(serializers.Serializer[Any]):
    employer = serializers.CharField(required=False, help_text="employer public id (required for auditors)")
    kind = serializers.CharField(required=False, max_length=100)
    since = serializers.DateTimeField(required=False, help_text="occurred_at >= since (ISO 8601)")
    until = serializers.DateTimeField(required=False, help_text="occurred_at < until (ISO 8601)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "must be after since"})
        return attrs


def _audit_events(request: Request) -> Any:
    """The employer's chain, filtered; the audit selector enforces access once more."""
    from audit.selectors import events_for_subject

    filters = AuditFilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    data = dict(filters.validated_data)
    employer = selectors.audit_employer_for_user(user=request.user, employer_public_id=data.pop("employer", None))
    return events_for_subject(request.user, SUBJECT_TYPE, str(employer.pk), **data)


@extend_schema(parameters=[AuditFilterSerializer])
class EndorsementAuditTrailView(ListAPIView[Any]):
    """The employer's endorsement events from the tamper-evident audit chain (newest last)."""

    permission_classes = [IsAuthenticated]
    serializer_class = AuditTrailEventSerializer

    def get_queryset(self) -> Any:
        return _audit_events(self.request)


class EndorsementAuditEventsView(APIView):
    """The employer's events exactly as hashed (with leaf index), for checking by hand."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[AuditFilterSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        from audit.selectors import event_as_record

        paginator = LinkHeaderPagination()
        page: list[Any] | None = paginator.paginate_queryset(_audit_events(request), request, view=self)
        return paginator.get_paginated_response([event_as_record(e) for e in page or []])


class EndorsementAuditBundleView(APIView):
    """Download the employer's proof bundle (check it offline with `python -m audit.verify`)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def get(self, request: Request) -> HttpResponse:
        from audit.selectors import bundle_for_subject

        employer = selectors.audit_employer_for_user(
            user=request.user, employer_public_id=request.query_params.get("employer")
        )
        bundle = bundle_for_subject(request.user, SUBJECT_TYPE, str(employer.pk))
        response = HttpResponse(json.dumps(bundle, indent=1, sort_keys=True), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="audit-endorsements-{employer.public_id}.json"'
        return response


class EndorsementEventVerifyView(APIView):
    """One endorsement event's inclusion proof, tree head, anchor and verdict."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, event_hash: str) -> Response:
        from audit.selectors import event_proof

        # Read-only despite POST (the seed's contract), so no Idempotency-Key.
        proof = event_proof(request.user, event_hash)
        if proof["event"]["subject_type"] != SUBJECT_TYPE:
            # Other businesses' events have their own routes; this one answers only for endorsements.
            raise NotFoundError("No such audit event.", code="audit_event_not_found")
        return Response(proof)
