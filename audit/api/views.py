"""Audit API: read-only and generic over subject types (`audit/<subject_type>/<subject_id>/...`).

Upper apps that show a case's trail in their own shape (transactions' `audit-trail/`, endorsements'
employer trail) call audit.selectors directly; these views are not mounted a second time.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import selectors
from audit.api.serializers import AuditEventSerializer, EventFilterSerializer
from audit.models import AuditEvent


class SubjectMixin:
    """Takes the subject type and id from the URL."""

    kwargs: dict[str, Any]

    def get_subject(self) -> tuple[str, str]:
        return str(self.kwargs["subject_type"]), str(self.kwargs["subject_id"])


@extend_schema(
    summary="A case's audit events (filter by kind and time; paginated)",
    parameters=[
        OpenApiParameter("kind", str, description="only events of this kind"),
        OpenApiParameter("since", OpenApiTypes.DATETIME, description="occurred_at >= since"),
        OpenApiParameter("until", OpenApiTypes.DATETIME, description="occurred_at < until"),
    ],
)
class SubjectEventsView(SubjectMixin, generics.ListAPIView[AuditEvent]):
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> Any:
        filters = EventFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        subject_type, subject_id = self.get_subject()
        return selectors.events_for_subject(self.request.user, subject_type, subject_id, **filters.validated_data)


class SubjectBundleView(SubjectMixin, APIView):
    @extend_schema(
        summary="Download the case's proof bundle (check it offline with `python -m audit.verify`)",
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, **_: Any) -> HttpResponse:
        subject_type, subject_id = self.get_subject()
        bundle = selectors.bundle_for_subject(request.user, subject_type, subject_id)
        response = HttpResponse(json.dumps(bundle, indent=1, sort_keys=True), content_type="application/json")
        safe_id = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "_" for c in subject_id)[:80]
        response["Content-Disposition"] = f'attachment; filename="audit-{subject_type}-{safe_id}.json"'
        return response


class EventVerifyView(APIView):
    @extend_schema(
        request=None,
        summary="An event's inclusion proof, tree head, consistency proof, anchor and verdict",
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, event_hash: str) -> Response:
        # Read-only despite POST (the seed's contract): nothing is created, so no Idempotency-Key.
        return Response(selectors.event_proof(request.user, event_hash))
