"""Reconciliation API (operators): runs, their lines and reports, breaks and the work on them.

Statements are uploaded through the business that owns them (endorsements: insurer statements);
the rail and escrow runs come from scheduled jobs. Everything here reads or works breaks.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.csv_safe import csv_response
from escrow_project.common.errors import NotFoundError, UnprocessableError
from escrow_project.common.idempotency import idempotent
from identity.permissions import IsOperator
from ledger import selectors, services
from ledger.models import BreakStatus, ReasonCode, ReconciliationBreak, ReconciliationLine, ReconciliationRun, Side
from ledger.reconciliation_report import REPORT_COLUMNS, report_pdf, report_rows


class RunSerializer(serializers.ModelSerializer[ReconciliationRun]):
    class Meta:
        model = ReconciliationRun
        fields = [
            "public_id", "kind", "business", "counterparty", "counterparty_name", "statement_key", "statement_name",
            "period_start", "period_end", "tolerance", "started_by", "line_count", "break_count", "summary",
            "created_at",
        ]  # fmt: skip


class LineSerializer(serializers.ModelSerializer[ReconciliationLine]):
    outcomes = serializers.ListField(source="outcome_list", child=serializers.CharField())
    break_id = serializers.SerializerMethodField()

    class Meta:
        model = ReconciliationLine
        fields = [
            "position", "outcomes", "is_break", "reference", "key", "currency", "our_amount", "their_amount",
            "difference", "our_date", "their_date", "date_delta_days", "our_status", "their_status", "our_source",
            "their_source", "break_id",
        ]  # fmt: skip

    def get_break_id(self, obj: ReconciliationLine) -> str | None:
        brk = getattr(obj, "break_row", None) if obj.is_break else None
        return str(brk.public_id) if brk is not None else None


class BreakSerializer(serializers.ModelSerializer[ReconciliationBreak]):
    run = serializers.UUIDField(source="run.public_id")
    business = serializers.CharField(source="run.business")
    line = LineSerializer()
    age_bucket = serializers.SerializerMethodField()
    comments = serializers.SerializerMethodField()

    class Meta:
        model = ReconciliationBreak
        fields = [
            "public_id", "run", "business", "status", "opened_at", "age_bucket", "assignee", "reason_code", "note",
            "correction", "requested_by", "decided_by", "decided_at", "reason", "line", "comments",
        ]  # fmt: skip

    def get_age_bucket(self, obj: ReconciliationBreak) -> str:
        return selectors.break_age_bucket(opened_at=obj.opened_at)

    def get_comments(self, obj: ReconciliationBreak) -> list[dict[str, Any]]:
        return [{"author": c.author, "body": c.body, "at": c.created_at.isoformat()} for c in obj.comments.all()]


class AssignSerializer(serializers.Serializer[Any]):
    assignee = serializers.CharField(max_length=100, allow_blank=True)


class CommentSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=5000)


class CorrectionSerializer(serializers.Serializer[Any]):
    account = serializers.UUIDField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    direction = serializers.ChoiceField(choices=Side.choices)


class ResolveSerializer(serializers.Serializer[Any]):
    reason_code = serializers.ChoiceField(choices=ReasonCode.choices)
    note = serializers.CharField(max_length=5000)
    correction = CorrectionSerializer(required=False)


class RejectSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=300)


def _actor(request: Request) -> str:
    return f"user:{request.user.pk}"


def _run(public_id: Any) -> ReconciliationRun:
    run = ReconciliationRun.objects.filter(public_id=public_id).first()
    if run is None:
        raise NotFoundError("No such reconciliation run.")
    return run


def _break(public_id: Any) -> ReconciliationBreak:
    row = ReconciliationBreak.objects.filter(public_id=public_id).first()
    if row is None:
        raise NotFoundError("No such break.")
    return row


def _break_read(pk: int) -> ReconciliationBreak:
    return (
        ReconciliationBreak.objects.select_related("run", "line").prefetch_related("comments").get(pk=pk)
    )  # fmt: skip


_BOOL = {"true": True, "false": False}


class RunListView(generics.ListAPIView[ReconciliationRun]):
    permission_classes = [IsOperator]
    serializer_class = RunSerializer

    @extend_schema(
        parameters=[OpenApiParameter(n, str) for n in ("kind", "business", "counterparty")],
        summary="Operator: reconciliation runs, newest first",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ReconciliationRun]:
        params = self.request.query_params
        wanted = {name: params[name] for name in ("kind", "business", "counterparty") if params.get(name)}
        return ReconciliationRun.objects.filter(**wanted)


class RunDetailView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(responses=RunSerializer, summary="Operator: one reconciliation run")
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        return Response(RunSerializer(_run(public_id)).data)


class RunLinesView(generics.ListAPIView[ReconciliationLine]):
    permission_classes = [IsOperator]
    serializer_class = LineSerializer

    @extend_schema(
        parameters=[OpenApiParameter("outcome", str), OpenApiParameter("is_break", bool)],
        summary="Operator: the lines of a run, in order (filter by class or breaks only)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ReconciliationLine]:
        lines = ReconciliationLine.objects.filter(run=_run(self.kwargs["public_id"])).select_related("break_row")
        params = self.request.query_params
        if params.get("outcome"):
            lines = lines.filter(outcomes__contains=f",{params['outcome']},")
        if params.get("is_break") in _BOOL:
            lines = lines.filter(is_break=_BOOL[params["is_break"]])
        return lines.order_by("position")


class RunReportCsvView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, summary="Operator: the run as CSV")
    def get(self, request: Request, public_id: uuid.UUID) -> StreamingHttpResponse:
        run = _run(public_id)
        return csv_response(f"reconciliation-{run.public_id}.csv", list(REPORT_COLUMNS), report_rows(run))


class RunReportPdfView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY}, summary="Operator: the run as PDF")
    def get(self, request: Request, public_id: uuid.UUID) -> HttpResponse:
        run = _run(public_id)
        response = HttpResponse(report_pdf(run), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="reconciliation-{run.public_id}.pdf"'
        return response


class BreakListView(generics.ListAPIView[ReconciliationBreak]):
    permission_classes = [IsOperator]
    serializer_class = BreakSerializer

    @extend_schema(
        parameters=[OpenApiParameter(n, str) for n in ("status", "business", "run", "assignee", "outcome")],
        summary="Operator: breaks, oldest first (open and waiting ones unless a status is asked for)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ReconciliationBreak]:
        params = self.request.query_params
        rows = ReconciliationBreak.objects.select_related("run", "line").prefetch_related("comments")
        status = params.get("status")
        if status and status not in BreakStatus.values:
            raise UnprocessableError(f"status must be one of {', '.join(BreakStatus.values)}.", code="invalid_status")
        rows = rows.filter(status=status) if status else rows.exclude(status=BreakStatus.RESOLVED)
        if params.get("business"):
            rows = rows.filter(run__business=params["business"])
        if params.get("run"):
            try:
                rows = rows.filter(run__public_id=uuid.UUID(params["run"]))
            except ValueError:
                raise UnprocessableError("run must be a run's id.", code="invalid_run") from None
        if params.get("assignee"):
            rows = rows.filter(assignee=params["assignee"])
        if params.get("outcome"):
            rows = rows.filter(line__outcomes__contains=f",{params['outcome']},")
        return rows.order_by("opened_at", "id")


class BreakDetailView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(responses=BreakSerializer, summary="Operator: one break with its comments")
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        return Response(BreakSerializer(_break_read(_break(public_id).pk)).data)


class BreakAssignView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=AssignSerializer, responses=BreakSerializer, summary="Operator: assign a break")
    @idempotent
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        payload = AssignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.break_assign(
            break_id=_break(public_id).pk, assignee=payload.validated_data["assignee"], actor=_actor(request)
        )
        return Response(BreakSerializer(_break_read(row.pk)).data)


class BreakCommentView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=CommentSerializer, responses={201: BreakSerializer}, summary="Operator: comment a break")
    @idempotent
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        payload = CommentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = _break(public_id)
        services.break_comment(break_id=row.pk, actor=_actor(request), body=payload.validated_data["body"])
        return Response(BreakSerializer(_break_read(row.pk)).data, status=201)


class BreakResolveView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        request=ResolveSerializer,
        responses=BreakSerializer,
        summary="Operator: resolve a break with a reason code (a write-off then waits for a second operator)",
    )
    @idempotent
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        payload = ResolveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        correction = data.get("correction")
        row = services.break_resolve(
            break_id=_break(public_id).pk,
            actor=_actor(request),
            reason_code=data["reason_code"],
            note=data["note"],
            correction={**correction, "account": str(correction["account"])} if correction else None,
        )
        return Response(BreakSerializer(_break_read(row.pk)).data)


class BreakWriteOffApproveView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=None, responses=BreakSerializer, summary="Operator: approve a write-off (second person)")
    @idempotent
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        row = services.break_write_off_approve(break_id=_break(public_id).pk, actor=_actor(request))
        return Response(BreakSerializer(_break_read(row.pk)).data)


class BreakWriteOffRejectView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=RejectSerializer, responses=BreakSerializer, summary="Operator: reject a write-off")
    @idempotent
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        payload = RejectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.break_write_off_reject(
            break_id=_break(public_id).pk, actor=_actor(request), reason=payload.validated_data["reason"]
        )
        return Response(BreakSerializer(_break_read(row.pk)).data)
