"""Signed insurer callbacks: verification, and events applied once, in any order."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, cast

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction

from endorsements import metrics
from endorsements.models import EndorsementRequest, InsurerCallbackSecret, InsurerEvent
from endorsements.services.funding import ea_lock
from endorsements.services.lifecycle import request_activate, request_confirm, request_reject
from endorsements.states import RequestState
from escrow_project.common.errors import DomainError, UnprocessableError
from identity.models import Organization

logger = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Insurer-Signature"
TIMESTAMP_HEADER = "X-Insurer-Timestamp"
EVENT_TYPES = ("endorsement.confirmed", "endorsement.activated", "endorsement.rejected")


class SignatureError(DomainError):
    status = 401
    code = "invalid_signature"
    title = "The callback signature is not valid"


def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    """HMAC-SHA256 over `<timestamp>.<raw body>`, hex: what insurers (and our sandbox) send."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256).hexdigest()


def signature_verify(*, insurer: Organization, raw_body: bytes, timestamp: str, signature_header: str) -> None:
    """Accept a callback signed by any active secret of the insurer, inside the time tolerance."""
    if not timestamp.isdigit():
        raise SignatureError("The X-Insurer-Timestamp header is missing or not a Unix time.", code="missing_timestamp")
    skew = abs(time.time() - int(timestamp))
    if skew > settings.ENDORSEMENTS_CALLBACK_TOLERANCE_SECONDS:
        raise SignatureError("The callback timestamp is outside the accepted window.", code="stale_timestamp")
    # Several signatures may be sent during a rotation ("v1=<hex>,v1=<hex>").
    offered = [part.strip()[3:] for part in signature_header.split(",") if part.strip().startswith("v1=")]
    if not offered:
        raise SignatureError("The X-Insurer-Signature header is missing.", code="missing_signature")
    secrets_ = InsurerCallbackSecret.objects.filter(insurer=insurer, is_active=True).values_list("secret", flat=True)
    matched = False
    for secret in secrets_:
        expected = sign(secret, timestamp, raw_body)
        for candidate in offered:
            # Keep comparing after a match: the time taken must not depend on which one matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        metrics.CALLBACKS.labels(outcome="bad_signature").inc()
        raise SignatureError("The callback signature does not match any active secret.")


def event_fields_check(event: Any) -> tuple[str, str, str]:
    if not isinstance(event, dict):
        raise UnprocessableError("Each event must be an object.", code="invalid_event")
    event_id, event_type, tracking_id = event.get("event_id"), event.get("type"), event.get("tracking_id")
    errors = []
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
        errors.append({"field": "event_id", "code": "required", "message": "event_id must be 1-100 characters."})
    if event_type not in EVENT_TYPES:
        errors.append({"field": "type", "code": "invalid_choice", "message": f"type must be one of {EVENT_TYPES}."})
    if not isinstance(tracking_id, str) or not tracking_id:
        errors.append({"field": "tracking_id", "code": "required", "message": "tracking_id is required."})
    if errors:
        raise UnprocessableError("The event is invalid.", code="invalid_event", errors=errors)
    return str(event_id), str(event_type), str(tracking_id)


@transaction.atomic
def insurer_event_apply(*, insurer: Organization, event: dict[str, Any]) -> str:
    """Apply one event once; replays say "duplicate", late ones "stale". Returns the outcome."""
    event_id, event_type, tracking_id = event_fields_check(event)
    try:
        with transaction.atomic():
            record = InsurerEvent.objects.create(
                insurer=insurer, event_id=event_id, event_type=event_type, outcome="received", payload=cast(Any, event)
            )
    except IntegrityError:
        metrics.CALLBACKS.labels(outcome="duplicate").inc()
        return "duplicate"
    found = (
        EndorsementRequest.objects.filter(tracking_id=tracking_id, insurer=insurer)
        .values_list("pk", "employer_id", "currency")
        .first()
    )
    request = None
    if found is not None:
        ea_lock(employer_id=found[1], currency=found[2])  # the lock order of every funding path
        request = EndorsementRequest.objects.select_for_update().get(pk=found[0])
    actor = f"insurer:{insurer.slug}"
    outcome = _apply(request, event_type, event, actor) if request is not None else "unknown_request"
    record.request = request
    record.outcome = outcome
    record.save(update_fields=["request", "outcome"])
    metrics.CALLBACKS.labels(outcome=outcome).inc()
    if outcome in ("conflict", "unknown_request"):
        logger.warning("endorsement_callback_not_applied", event_id=event_id, outcome=outcome, type=event_type)
    return outcome


def _apply(request: EndorsementRequest, event_type: str, event: dict[str, Any], actor: str) -> str:
    if request.state == RequestState.FUND_LOCKED and request.dispatch_id is not None:
        # The insurer answered before our delivery bookkeeping committed: it evidently has it.
        request.mark_sent()
        request.save()
    state = request.state
    claim = bool(event.get("claim_reported", False))
    reference = str(event.get("reference", ""))[:100]
    if event_type == "endorsement.rejected":
        if state == RequestState.SENT:
            request_reject(request_id=request.pk, reason=str(event.get("reason", ""))[:2000], actor=actor)
            return "applied"
        return "stale" if state == RequestState.REJECTED else "conflict"
    if event_type == "endorsement.confirmed":
        if state == RequestState.SENT:
            request_confirm(request_id=request.pk, claim_reported=claim, reference=reference, actor=actor)
            return "applied"
        return "stale" if state in (RequestState.CONFIRMED, RequestState.ACTIVE) else "conflict"
    # activated: may overtake its own "confirmed"; confirm first so money and state stay in step.
    if state == RequestState.SENT:
        request_confirm(request_id=request.pk, claim_reported=claim, reference=reference, actor=actor)
        state = RequestState.CONFIRMED
    if state == RequestState.CONFIRMED:
        request_activate(request_id=request.pk, actor=actor)
        return "applied"
    return "stale" if state == RequestState.ACTIVE else "conflict"
