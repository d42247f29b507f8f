"""REST insurer adapter: JSON over HTTPS, Idempotency-Key on every call, every exchange recorded."""

from __future__ import annotations

import dataclasses
import json
import time

import requests
import structlog

from endorsements import metrics
from endorsements.gateway.base import GatewayItem, GatewayResult, InsurerGateway
from endorsements.models import GatewayExchange, InsurerProfile

logger = structlog.get_logger(__name__)

TIMEOUT = (3.05, 15)
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class RestGateway(InsurerGateway):
    protocol = "rest"

    def __init__(self, profile: InsurerProfile) -> None:
        self.profile = profile

    def submit(
        self, *, idempotency_key: str, items: list[GatewayItem], callback_url: str, dispatch_id: int | None
    ) -> GatewayResult:
        url = self.profile.base_url.rstrip("/") + "/v1/endorsements/batch"
        body = json.dumps(
            {"callback_url": callback_url, "items": [dataclasses.asdict(i) for i in items]},
            separators=(",", ":"),
        )
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "Authorization": f"Bearer {self.profile.api_key}",
        }
        started = time.perf_counter()
        status: int | None = None
        text = ""
        error = ""
        try:
            response = requests.post(url, data=body.encode(), headers=headers, timeout=TIMEOUT)
            status, text = response.status_code, response.text[:100_000]
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        GatewayExchange.objects.create(
            insurer_id=self.profile.insurer_id,
            dispatch_id=dispatch_id,
            direction="outbound",
            operation="submit_batch",
            idempotency_key=idempotency_key,
            url=url,
            request_body=body,
            response_status=status,
            response_body=text,
            error=error,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        if status is None:
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="unreachable").inc()
            return GatewayResult(accepted=False, transient=True, error=error)
        if 200 <= status < 300:
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="accepted").inc()
            try:
                reference = str(json.loads(text).get("batch_reference", ""))
            except (ValueError, AttributeError):
                reference = ""
            return GatewayResult(accepted=True, reference=reference)
        transient = status in TRANSIENT_STATUSES
        metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="transient" if transient else "refused").inc()
        return GatewayResult(accepted=False, transient=transient, error=f"HTTP {status}: {text[:500]}")
