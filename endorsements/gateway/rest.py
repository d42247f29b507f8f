"""REST insurer adapter: JSON over HTTPS, Idempotency-Key on every call, every exchange recorded."""

from __future__ import annotations

import json
import time

import requests
import structlog

from endorsements import metrics
from endorsements.gateway.base import (
    GatewayItem,
    GatewayResult,
    InsurerGateway,
    exchange_record,
    insurer_session,
    refused_host_error,
)
from endorsements.models import InsurerProfile
from escrow_project.common import egress

logger = structlog.get_logger(__name__)

TIMEOUT = (3.05, 15)
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}
# The insurer judged the submission's content and refused it for good. Other 4xx (401, 403, 404,
# 409...) point at configuration an operator can fix, so those dead-letter and stay retryable.
INVALID_STATUSES = {400, 422}


def _item_errors(text: str) -> tuple[str, dict[str, str]]:
    """The insurer's error code and its per-item messages (`{"errors": [{"tracking_id", "message"}]}`)."""
    try:
        body = json.loads(text)
    except ValueError:
        return "", {}
    if not isinstance(body, dict):
        return "", {}
    errors = body.get("errors")
    items = {
        str(e["tracking_id"]): str(e.get("message") or "invalid")[:500]
        for e in (errors if isinstance(errors, list) else [])
        if isinstance(e, dict) and e.get("tracking_id")
    }
    return str(body.get("error", "")), items


def _post(url: str, *, body: bytes, headers: dict[str, str]) -> requests.Response:
    """POST to the insurer's checked address (`insurer_session`); redirects are not followed."""
    with insurer_session(url) as session:
        return session.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)


class RestGateway(InsurerGateway):
    protocol = "rest"

    def __init__(self, profile: InsurerProfile) -> None:
        self.profile = profile

    def submit(
        self, *, idempotency_key: str, items: list[GatewayItem], callback_url: str, dispatch_id: int | None
    ) -> GatewayResult:
        url = self.profile.base_url.rstrip("/") + "/v1/endorsements/batch"
        body = json.dumps(
            # vars(): the fields are plain strings; dataclasses.asdict deep-copies each one.
            {"callback_url": callback_url, "items": [vars(i) for i in items]},
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
        refused = False
        try:
            response = _post(url, body=body.encode(), headers=headers)
            status, text = response.status_code, response.text[:100_000]
        except egress.EgressRefused as exc:
            refused, error = True, refused_host_error(exc)
        except (requests.RequestException, egress.EgressUnresolvable) as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        exchange_record(
            insurer_id=self.profile.insurer_id,
            dispatch_id=dispatch_id,
            operation="submit_batch",
            started=started,
            idempotency_key=idempotency_key,
            url=url,
            request_body=body,
            response_status=status,
            response_body=text,
            error=error,
        )
        if refused:
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="refused").inc()
            return GatewayResult(accepted=False, transient=False, error=error)
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
        code, item_errors = _item_errors(text) if status in INVALID_STATUSES else ("", {})
        # A reused idempotency key is our bookkeeping's fault, not the content's: dead letter.
        invalid = status in INVALID_STATUSES and code != "idempotency_key_reused"
        result = "transient" if transient else "invalid" if invalid else "refused"
        metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result=result).inc()
        return GatewayResult(
            accepted=False,
            transient=transient,
            invalid=invalid,
            item_errors=item_errors if invalid else {},
            error=f"HTTP {status}: {text[:500]}",
        )
