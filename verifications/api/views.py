"""Agents' API: their tasks, report submission, status updates, and the HMAC-signed webhook."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.errors import DomainError, NotFoundError, PermissionDeniedError
from escrow_project.common.idempotency import idempotent
from escrow_project.common.inbound_signatures import signature_hex, signature_matches, timestamp_fresh
from escrow_project.common.input_guard import InputRefused, json_loads_bounded
from verifications import selectors, services
from verifications.api.serializers import (
    ReportInSerializer,
    ReportSerializer,
    StatusInSerializer,
    TaskSerializer,
    WebhookInSerializer,
)
from verifications.models import AgentProfile, ReportSource, VerificationTask

SIGNATURE_HEADER = "X-Agent-Signature"
TIMESTAMP_HEADER = "X-Agent-Timestamp"
WEBHOOK_TOLERANCE_SECONDS = 300


class TaskList(generics.ListAPIView[VerificationTask]):
    """The tasks assigned to the caller's organizations."""

    serializer_class = TaskSerializer

    def get_queryset(self) -> Any:
        tasks = selectors.task_list_for_agent(user=self.request.user).prefetch_related("depends_on", "reports")
        wanted = self.request.query_params.get("status")
        return tasks.filter(status=wanted) if wanted else tasks


class TaskDetail(APIView):
    @extend_schema(responses=TaskSerializer)
    def get(self, request: Request, task_id: str) -> Response:
        return Response(TaskSerializer(selectors.task_get_for_agent(user=request.user, public_id=task_id)).data)


class TaskReport(APIView):
    @extend_schema(request=ReportInSerializer, responses={201: ReportSerializer})
    @idempotent
    def post(self, request: Request, task_id: str) -> Response:
        task = selectors.task_get_for_agent(user=request.user, public_id=task_id)
        data = ReportInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reason = data.validated_data["operator_reason"]
        report = services.report_submit(
            task_id=task.pk,
            payload=data.validated_data["report"],
            source=ReportSource.API,
            agent_organization_id=selectors.task_reporter_for(user=request.user, task=task, operator_reason=reason),
            submitted_by=request.user,
            operator_reason=reason,
        )
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)


class TaskStatus(APIView):
    @extend_schema(request=StatusInSerializer, responses=TaskSerializer)
    @idempotent
    def post(self, request: Request, task_id: str) -> Response:
        task = selectors.task_get_for_agent(user=request.user, public_id=task_id)
        data = StatusInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reason = data.validated_data["operator_reason"]
        services.task_status_update(
            task_id=task.pk,
            status=data.validated_data["status"],
            agent_organization_id=selectors.task_reporter_for(user=request.user, task=task, operator_reason=reason),
            reason=data.validated_data["reason"],
            actor=request.user,
            operator_reason=reason,
        )
        return Response(TaskSerializer(VerificationTask.objects.get(pk=task.pk)).data)


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """sha256=HMAC-SHA256(secret, "<timestamp>.<raw body>") in hex: what partners compute too."""
    return f"sha256={signature_hex(secret, timestamp, body)}"


class AgentWebhook(APIView):
    """A partner agent's system reports through a signed webhook (no user session)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(request=WebhookInSerializer, responses={200: ReportSerializer})
    def post(self, request: Request, agent_id: str) -> Response:
        organization = services.agent_for_webhook(organization_public_id=agent_id)
        body = request.body
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        secrets = [p.webhook_secret for p in AgentProfile.objects.filter(organization=organization) if p.webhook_secret]
        # Headers are parsed before anything trusts them: garbage is a refusal, never an exception.
        if not timestamp_fresh(timestamp, tolerance_seconds=WEBHOOK_TOLERANCE_SECONDS):
            raise PermissionDeniedError("The webhook timestamp is missing or too old.", code="webhook_stale")
        if not signature_matches(
            secrets=secrets, timestamp=timestamp, raw_body=body, header=signature, scheme="sha256"
        ):
            raise PermissionDeniedError("The webhook signature does not verify.", code="webhook_signature_invalid")
        try:
            parsed = json_loads_bounded(body)
        except InputRefused as exc:
            raise DomainError(f"The webhook body is refused: {exc}", code="malformed_request") from None
        data = WebhookInSerializer(data=parsed)
        data.is_valid(raise_exception=True)
        task = VerificationTask.objects.filter(public_id=data.validated_data["task"], agent=organization).first()
        if task is None:
            raise NotFoundError("No such verification task.")
        with transaction.atomic():
            if data.validated_data["event"] == "report.submitted":
                report = services.report_submit(
                    task_id=task.pk,
                    payload=data.validated_data.get("report"),
                    source=ReportSource.WEBHOOK,
                    agent_organization_id=organization.pk,
                )
                return Response(ReportSerializer(report).data)
            services.task_status_update(
                task_id=task.pk,
                status=data.validated_data.get("status", ""),
                agent_organization_id=organization.pk,
                reason=data.validated_data["reason"],
            )
        return Response(TaskSerializer(VerificationTask.objects.get(pk=task.pk)).data)
