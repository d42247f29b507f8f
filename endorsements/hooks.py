"""Audit events and HR notifications for every step, called inside the service's transaction."""

from __future__ import annotations

from typing import Any

import structlog
from django.db.models import prefetch_related_objects

from audit.services import event_record
from endorsements import metrics
from endorsements.models import EndorsementRequest
from ledger import selectors as ledger_selectors
from notifications.services import notification_enqueue, send_escalation_alert
from notifications.types import Recipient

logger = structlog.get_logger(__name__)

SUBJECT_TYPE = "employer_endorsements"

# Steps that notify the employer's HR, and the notification kind each one uses.
NOTIFY_KINDS = {
    "endorsement.received": "endorsement_received",
    "endorsement.on_hold_funds": "endorsement_on_hold_funds",
    "endorsement.confirmed": "endorsement_confirmed",
    "endorsement.activated": "endorsement_activated",
    "endorsement.rejected": "endorsement_rejected",
    "endorsement.failed": "endorsement_failed",
    "endorsement.dead_letter": "endorsement_dead_lettered",
}
# Not a step of its own in the trail (the step is "fund_locked"): told to HR when the request had waited.
WOKEN_KIND = "endorsement_woken"


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
        _notify_one(request, kind, notify_kind)


def _notify_one(request: EndorsementRequest, kind: str, notify_kind: str) -> None:
    context = {
        "reference": request.tracking_id,
        "employer_name": request.employer.name,
        "policy_number": request.policy.policy_number,
        "amount_required": str(request.amount),
        "currency": request.currency,
        "reason": request.rejection_reason or request.last_error or "no reason given",
    }
    _notify(
        kind=notify_kind,
        employer_id=request.employer_id,
        context=context,
        dedupe_key=f"endorsements:{request.tracking_id}:{kind}",
    )


def employer_event(*, employer_id: int, kind: str, actor: str, payload: dict[str, Any]) -> None:
    _audit(kind=kind, subject_id=str(employer_id), actor=actor, payload=payload)


def low_balance(
    *, employer_id: int, employer_name: str, currency: str, available: str, threshold: str, day: str
) -> None:
    """Once a day at most per account, however many drains find it low."""
    _notify(
        kind="ea_low_balance",
        employer_id=employer_id,
        context={"employer_name": employer_name, "currency": currency, "balance": available, "threshold": threshold},
        dedupe_key=f"endorsements:ea_low_balance:{employer_id}:{currency}:{day}",
    )


def ea_running_low(
    *,
    employer_id: int,
    employer_name: str,
    currency: str,
    days_left: int,
    available: str,
    needed_now: str,
    recommended_topup: str,
    day: str,
) -> None:
    """The forecast says the account runs dry soon: once a day at most per account."""
    _notify(
        kind="ea_running_low",
        employer_id=employer_id,
        context={
            "employer_name": employer_name,
            "currency": currency,
            "days_left": days_left,
            "available": available,
            "needed_now": needed_now,
            "recommended_topup": recommended_topup,
        },
        dedupe_key=f"endorsements:ea_running_low:{employer_id}:{currency}:{day}",
    )


def batch_finished(*, batch: Any, warning: str) -> None:
    """One message per file with its counts, named by the file the HR user uploaded."""
    _notify(
        kind="endorsement_batch_finished",
        employer_id=batch.employer_id,
        context={
            "file_name": batch.file_name or "without a name",
            "employer_name": batch.employer.name,
            "accepted": batch.rows_accepted,
            "rejected": batch.rows_rejected,
            "duplicate": batch.rows_duplicate,
            "error": batch.error,
            "warning": warning,
        },
        dedupe_key=f"endorsements:batch:{batch.public_id}:finished",
    )


def batch_held(*, batch: Any, reason: str) -> None:
    """HR hears that its file waits for review; the trail records why."""
    _audit(
        kind="endorsement.batch_held",
        subject_id=str(batch.employer_id),
        actor="system:velocity",
        payload={"batch": str(batch.public_id), "file_name": batch.file_name, "reason": reason},
    )
    _notify(
        kind="endorsement_batch_held",
        employer_id=batch.employer_id,
        context={
            "file_name": batch.file_name or "without a name",
            "employer_name": batch.employer.name,
            "reason": reason,
        },
        dedupe_key=f"endorsements:batch:{batch.public_id}:held",
    )


def batch_reviewed(*, batch: Any, decision: str, actor: str, note: str) -> None:
    _audit(
        kind=f"endorsement.batch_{decision}",
        subject_id=str(batch.employer_id),
        actor=actor,
        payload={"batch": str(batch.public_id), "file_name": batch.file_name, "note": note},
    )
    _notify(
        kind="endorsement_batch_reviewed",
        employer_id=batch.employer_id,
        context={
            "file_name": batch.file_name or "without a name",
            "employer_name": batch.employer.name,
            "decision": decision,
            "note": note,
        },
        dedupe_key=f"endorsements:batch:{batch.public_id}:reviewed",
    )


def requests_woken(requests: list[EndorsementRequest], *, actor: str) -> None:
    """Parked requests that got their funds: HR is told (per request, or once per file)."""
    _notify_requests(requests, "endorsement.woken", WOKEN_KIND)


def _audit(*, kind: str, subject_id: str, actor: str, payload: dict[str, Any]) -> None:
    # One hash chain per employer: the subject HR and auditors follow is "this employer's endorsements".
    event_record(kind=kind, subject_type=SUBJECT_TYPE, subject_id=subject_id, actor=actor, payload=payload)


def _notify(*, kind: str, employer_id: int, context: dict[str, Any], dedupe_key: str) -> None:
    # The employer organization: its HR members, and its webhook endpoints if it has any.
    notification_enqueue(
        kind=kind,
        recipient=Recipient.organization(employer_id),
        context=context,
        dedupe_key=dedupe_key,
        subject_type=SUBJECT_TYPE,
        subject_id=str(employer_id),
    )


def requests_step(
    requests: list[EndorsementRequest], kind: str, *, actor: str, notify: bool = True, state: str | None = None
) -> None:
    """One step for many requests at once (a chunk, a window, a callback delivery).

    One audit event per employer lists every request and its new state, so the trail is complete
    without one hash-chain append per row. Requests from a file notify HR once per batch and step
    (a digest); API requests notify one by one. `state` names the state this step left them in when
    a later step of the same transaction already moved them on (intake, then fund locking).
    """
    if not requests:
        return
    by_employer: dict[int, list[EndorsementRequest]] = {}
    for request in requests:
        metrics.TRANSITIONS.labels(state=state or request.state).inc()
        by_employer.setdefault(request.employer_id, []).append(request)
    for employer_id, group in by_employer.items():
        _audit(
            kind=kind,
            subject_id=str(employer_id),
            actor=actor,
            payload={
                "count": len(group),
                "requests": [
                    {
                        "tracking_id": r.tracking_id,
                        "state": state or r.state,
                        "direction": r.direction,
                        "amount": str(r.amount),
                        "currency": r.currency,
                    }
                    for r in group
                ],
            },
        )
    notify_kind = NOTIFY_KINDS.get(kind)
    if not (notify and notify_kind):
        return
    _notify_requests(requests, kind, notify_kind)


def _notify_requests(requests: list[EndorsementRequest], kind: str, notify_kind: str) -> None:
    if not requests:
        return
    singles = [r for r in requests if r.batch_id is None]
    digests: dict[int, list[EndorsementRequest]] = {}
    for request in requests:
        if request.batch_id is not None:
            digests.setdefault(request.batch_id, []).append(request)
    # The notifications name the employer, policy and batch: one query per relation for the requests
    # that are told about (API requests, and the first of each file's group), never one per row, and
    # callers need not load them for every row of a delivery.
    prefetch_related_objects(singles, "employer", "policy")
    prefetch_related_objects([group[0] for group in digests.values()], "employer", "policy", "batch")
    for request in singles:
        _notify_one(request, kind, notify_kind)
    for group in digests.values():
        first = group[0]
        assert first.batch is not None
        count = len(group)
        noun = "endorsement" if count == 1 else "endorsements"
        reference = f"{count} {noun} from your file {first.batch.file_name or 'without a name'}"
        _notify(
            kind=notify_kind,
            employer_id=first.employer_id,
            context={
                "reference": reference,
                "employer_name": first.employer.name,
                "policy_number": first.policy.policy_number,
                "amount_required": str(sum((r.amount for r in group), start=group[0].amount * 0)),
                "currency": first.currency,
                "reason": "see the file's results for each endorsement",
            },
            # One message per file and step, however many chunks or deliveries step its requests.
            dedupe_key=f"endorsements:batch:{first.batch.public_id}:{kind}",
        )


def reconciliation_break_audit(*, break_row: Any, event: str, actor: str) -> bool:
    """A break of an insurer run changed: its event on the run's own chain (auditors follow a run)."""
    event_record(**ledger_selectors.break_audit_event(break_row=break_row, event=event, actor=actor))
    return True


def reconciliation_breaks_alert(*, run: Any) -> None:
    """Operators hear of a run that found breaks (e-mail, SMS, live), once per run."""
    alert = ledger_selectors.breaks_found_alert(run=run)
    if alert is not None:
        send_escalation_alert(**alert)
