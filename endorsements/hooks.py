"""Audit events and HR notifications for every step, called inside the service's transaction."""

from __future__ import annotations

from typing import Any

import structlog

from audit.services import event_record
from endorsements import metrics
from endorsements.models import EndorsementRequest

logger = structlog.get_logger(__name__)

SUBJECT_TYPE = "employer_endorsements"

# Steps that notify the employer's HR, and the notification kind each one uses.
NOTIFY_KINDS = {
    "endorsement.received": "endorsement_received",
    "endorsement.on_hold_funds": "endorsement_on_hold_funds",
    "endorsement.confirmed": "endorsement_confirmed",
    "endorsement.rejected": "endorsement_rejected",
}


def request_step(
    request: EndorsementRequest, kind: str, *, actor: str, payload: dict[str, Any] | None = None, notify: bool = True
) -> None:
    """One step of one request: metric, audit event, and (for the kinds HR cares about) a notification."""
    metrics.TRANSITIONS.labels(state=request.state).inc()
    body = {
        "tracking_id": request.tracking_id,
        "state": request.state,
        "kind": request.kind,
        "direction": request.direction,
        "amount": str(request.amount),
        "currency": request.currency,
        **(payload or {}),
    }
    _audit(kind=kind, subject_id=str(request.employer_id), actor=actor, payload=body)
    notify_kind = NOTIFY_KINDS.get(kind)
    if notify_kind and notify:
        _notify(
            kind=notify_kind, employer_id=request.employer_id, context=body, dedupe_key=f"{kind}:{request.tracking_id}"
        )


def employer_event(*, employer_id: int, kind: str, actor: str, payload: dict[str, Any]) -> None:
    _audit(kind=kind, subject_id=str(employer_id), actor=actor, payload=payload)


def low_balance(*, employer_id: int, currency: str, available: str, threshold: str, day: str) -> None:
    _notify(
        kind="ea_low_balance",
        employer_id=employer_id,
        context={"currency": currency, "available": available, "threshold": threshold},
        dedupe_key=f"ea_low_balance:{employer_id}:{currency}:{day}",
    )


def _audit(*, kind: str, subject_id: str, actor: str, payload: dict[str, Any]) -> None:
    # One hash chain per employer: the subject HR and auditors follow is "this employer's endorsements".
    event_record(kind=kind, subject_type=SUBJECT_TYPE, subject_id=subject_id, actor=actor, payload=payload)


def _notify(*, kind: str, employer_id: int, context: dict[str, Any], dedupe_key: str) -> None:
    logger.info("endorsement_notify", kind=kind, employer_id=employer_id)
