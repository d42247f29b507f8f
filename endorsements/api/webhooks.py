"""Insurer callbacks: HMAC over the raw body, then events applied one by one (each idempotent)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from endorsements.services.callbacks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    insurer_events_apply,
    signature_verify,
)
from escrow_project.common.errors import NotFoundError, UnprocessableError
from escrow_project.common.input_guard import InputRefused, json_loads_bounded
from identity.models import Organization, OrganizationKind

MAX_EVENTS = 5000


class _InsurerCallbackView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    batch = False

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: {"type": "object"}},
        description="Signed with HMAC-SHA256 over `<X-Insurer-Timestamp>.<raw body>` (X-Insurer-Signature: v1=<hex>).",
    )
    def post(self, request: Request, insurer_id: UUID) -> Response:
        insurer = Organization.objects.filter(public_id=insurer_id, kind=OrganizationKind.INSURER).first()
        if insurer is None:
            raise NotFoundError("No such insurer.", code="insurer_not_found")
        raw = request.body  # the exact bytes that were signed, before any parsing
        signature_verify(
            insurer=insurer,
            raw_body=raw,
            timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
            signature_header=request.headers.get(SIGNATURE_HEADER, ""),
        )
        try:
            body = json_loads_bounded(raw)
        except InputRefused as exc:
            raise UnprocessableError(f"The body is refused: {exc}", code="malformed_callback") from None
        if self.batch:
            events = body.get("events") if isinstance(body, dict) else None
            if not isinstance(events, list) or len(events) > MAX_EVENTS:
                raise UnprocessableError(f"Send `events`: a list of at most {MAX_EVENTS}.", code="malformed_callback")
        else:
            events = [body]
        applied = insurer_events_apply(insurer=insurer, events=events)  # validates all before applying any
        outcomes: dict[str, int] = {}
        for outcome in applied:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        results = [{"event_id": e.get("event_id"), "outcome": o} for e, o in zip(events, applied, strict=True)]
        return Response({"outcomes": outcomes, "results": results})


class InsurerNotifyView(_InsurerCallbackView):
    batch = False


class InsurerBatchNotifyView(_InsurerCallbackView):
    batch = True
