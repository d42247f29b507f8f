"""Signed insurer callbacks: verification, and events applied once, in any order."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from endorsements import funds, hooks, metrics
from endorsements.models import (
    Coverage,
    Direction,
    EndorsementAccount,
    EndorsementKind,
    EndorsementRequest,
    InsurerCallbackSecret,
    InsurerEvent,
    Member,
)
from endorsements.premium import current_run
from endorsements.services.funding import ea_drain, ea_lock
from endorsements.services.persist import requests_save
from endorsements.states import RequestState
from escrow_project.common.bulk import rows_insert, rows_update
from escrow_project.common.errors import DomainError, UnprocessableError
from escrow_project.common.inbound_signatures import signature_hex, signature_matches, timestamp_fresh
from escrow_project.common.input_guard import unix_timestamp_or_none
from identity.models import Organization
from ledger.types import HoldPostOp, HoldVoidOp, TransferOp

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
    return signature_hex(secret, timestamp, raw_body)


def signature_verify(*, insurer: Organization, raw_body: bytes, timestamp: str, signature_header: str) -> None:
    """Accept a callback signed by any active secret of the insurer, inside the time tolerance."""
    if unix_timestamp_or_none(timestamp) is None:
        raise SignatureError("The X-Insurer-Timestamp header is missing or not a Unix time.", code="missing_timestamp")
    if not timestamp_fresh(timestamp, tolerance_seconds=settings.ENDORSEMENTS_CALLBACK_TOLERANCE_SECONDS):
        raise SignatureError("The callback timestamp is outside the accepted window.", code="stale_timestamp")
    # Several signatures may be sent during a rotation ("v1=<hex>,v1=<hex>"); non-hex ones are ignored.
    secrets_ = InsurerCallbackSecret.objects.filter(insurer=insurer, is_active=True).values_list("secret", flat=True)
    matched = signature_matches(
        secrets=secrets_, timestamp=timestamp, raw_body=raw_body, header=signature_header, scheme="v1"
    )
    if matched is None:
        raise SignatureError("The X-Insurer-Signature header is missing.", code="missing_signature")
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


def insurer_event_apply(*, insurer: Organization, event: dict[str, Any]) -> str:
    """Apply one event once; replays say "duplicate", late ones "stale". Returns the outcome."""
    return insurer_events_apply(insurer=insurer, events=[event])[0]


@dataclass
class _Effects:
    ledger_ops: list[Any] = field(default_factory=list)
    steps: dict[str, list[EndorsementRequest]] = field(default_factory=dict)
    activated: list[EndorsementRequest] = field(default_factory=list)
    released_members: list[int] = field(default_factory=list)
    wake: set[tuple[int, str]] = field(default_factory=set)
    changed: dict[int, EndorsementRequest] = field(default_factory=dict)
    # One timestamp per delivery, so the rows of a delivery share it (and one UPDATE writes it).
    now: datetime.datetime = field(default_factory=timezone.now)

    def step(self, kind: str, request: EndorsementRequest) -> None:
        self.steps.setdefault(kind, []).append(request)
        self.changed[request.pk] = request


@transaction.atomic
def insurer_events_apply(*, insurer: Organization, events: list[dict[str, Any]]) -> list[str]:
    """Apply a delivery of events in one transaction; each event id takes effect at most once.

    Events may arrive twice (duplicate), late (stale: the request is already further along) or out
    of order (an activation before its confirmation confirms first). Money moves for the whole
    delivery go to the ledger as one all-or-nothing batch.
    """
    parsed = [event_fields_check(e) for e in events]
    tracking_ids = {t for _, _, t in parsed}
    found = list(
        EndorsementRequest.objects.filter(tracking_id__in=tracking_ids, insurer=insurer).values_list(
            "pk", "employer_id", "currency", "direction"
        )
    )
    # A delivery that can free funds (a rejection voids a hold, a confirmed credit refunds) wakes
    # parked requests: it takes the EA rows first, the lock order of every funding path. Plain
    # confirmations and activations of debits change no available balance and take no EA lock, so
    # they run beside a file intake's fund locking instead of queueing behind it.
    frees_funds = any(t == "endorsement.rejected" for _, t, _ in parsed) or any(
        d == Direction.CREDIT for *_, d in found
    )
    if frees_funds:
        for employer_id, currency in sorted({(e, c) for _, e, c, _ in found}):
            ea_lock(employer_id=employer_id, currency=currency)
    requests = {
        r.tracking_id: r
        for r in EndorsementRequest.objects.select_for_update(of=("self",))
        .filter(pk__in=[pk for pk, *_ in found])
        .order_by("pk")
    }
    seen = set(
        InsurerEvent.objects.filter(insurer=insurer, event_id__in=[i for i, _, _ in parsed]).values_list(
            "event_id", flat=True
        )
    )
    actor = f"insurer:{insurer.slug}"
    effects = _Effects()
    outcomes: list[str] = []
    records: list[InsurerEvent] = []
    for (event_id, event_type, tracking_id), event in zip(parsed, events, strict=True):
        if event_id in seen:
            outcomes.append("duplicate")
            continue
        seen.add(event_id)
        request = requests.get(tracking_id)
        outcome = _apply(request, event_type, event, effects) if request is not None else "unknown_request"
        outcomes.append(outcome)
        records.append(
            InsurerEvent(
                insurer=insurer,
                event_id=event_id,
                event_type=event_type,
                request=request,
                outcome=outcome,
                event_document=cast(Any, event),
            )
        )
    _apply_member_changes(effects)
    if effects.changed:
        requests_save(list(effects.changed.values()), transitions=_TRANSITIONS, also=_EVENT_COLUMNS)
    # The unique constraint stays the last word: a concurrent delivery of the same ids fails here
    # and rolls back whole (the insurer retries and then sees "duplicate").
    rows_insert(InsurerEvent, records)
    # Locks shared with every other writer of this employer come last, so they are held briefly:
    # the ledger accounts, then the employer's audit chain head (the same order as fund locking).
    if effects.ledger_ops:
        funds.ledger_batch(effects.ledger_ops)
    for kind, group in effects.steps.items():
        hooks.requests_step(group, kind, actor=actor)
    for request in effects.activated:
        if request.activated_at is not None:
            metrics.RECEIVED_TO_ACTIVE.observe((request.activated_at - request.created_at).total_seconds())
    for outcome in outcomes:
        metrics.CALLBACKS.labels(outcome=outcome).inc()
    conflicts = [o for o in outcomes if o in ("conflict", "unknown_request")]
    if conflicts:
        logger.warning("endorsement_callbacks_not_applied", count=len(conflicts))
    for employer_id, currency in sorted(effects.wake):
        ea_drain(employer_id=employer_id, currency=currency, actor=actor)
    return outcomes


# The transitions an insurer event may make, and the non-state columns the event itself sets.
_TRANSITIONS = ("mark_sent", "confirm", "activate", "reject")
_EVENT_COLUMNS = ("settled_amount", "claim_reported", "insurer_reference")


def _confirm(request: EndorsementRequest, event: dict[str, Any], effects: _Effects) -> None:
    claim = bool(event.get("claim_reported", False))
    request.confirm()
    request.confirmed_at = effects.now
    request.insurer_reference = str(event.get("reference", ""))[:100] or request.insurer_reference
    if request.direction == Direction.DEBIT and request.hold_id:
        effects.ledger_ops.append(
            HoldPostOp(hold_id=int(request.hold_id), idempotency_key=f"endorsement:{request.tracking_id}:post")
        )
        request.settled_amount = request.amount
    elif request.direction == Direction.CREDIT:
        # A claim in the term forfeits the refund of a leaving member (the insurer tells us).
        forfeited = claim and request.kind == EndorsementKind.DELETION
        request.claim_reported = claim
        request.settled_amount = Decimal(0) if forfeited else request.amount
        if request.settled_amount > 0:
            ea = EndorsementAccount.objects.get(employer_id=request.employer_id, currency=request.currency)
            premiums = funds.insurer_account(insurer_id=request.insurer_id, currency=request.currency)
            effects.ledger_ops.append(
                TransferOp(
                    debit_account_id=int(premiums.ledger_account_id),
                    credit_account_id=int(ea.ledger_account_id),
                    amount=request.settled_amount,
                    currency=request.currency,
                    description="Endorsement refund confirmed by the insurer",
                    idempotency_key=f"endorsement:{request.tracking_id}:refund",
                    metadata={"tracking_id": request.tracking_id},
                )
            )
            effects.wake.add((request.employer_id, request.currency))
    else:
        request.settled_amount = Decimal(0)
    effects.step("endorsement.confirmed", request)


def _apply(request: EndorsementRequest, event_type: str, event: dict[str, Any], effects: _Effects) -> str:
    if request.state == RequestState.FUND_LOCKED and request.dispatch_id is not None:
        # The insurer answered before our delivery bookkeeping committed: it evidently has it.
        request.mark_sent()
        request.sent_at = effects.now
        effects.step("endorsement.sent", request)
    state = request.state
    if event_type == "endorsement.rejected":
        if state == RequestState.SENT:
            request.reject(str(event.get("reason", "")) or "Rejected by the insurer.")
            if request.hold_id:
                effects.ledger_ops.append(
                    HoldVoidOp(
                        hold_id=int(request.hold_id),
                        reason=request.rejection_reason[:200],
                        idempotency_key=f"endorsement:{request.tracking_id}:void",
                    )
                )
                effects.wake.add((request.employer_id, request.currency))
            if request.kind == EndorsementKind.ADDITION:
                effects.released_members.append(request.member_id)
            effects.step("endorsement.rejected", request)
            return "applied"
        return "stale" if state == RequestState.REJECTED else "conflict"
    if event_type == "endorsement.confirmed":
        if state == RequestState.SENT:
            _confirm(request, event, effects)
            return "applied"
        return "stale" if state in (RequestState.CONFIRMED, RequestState.ACTIVE) else "conflict"
    # activated: may overtake its own "confirmed"; confirm first so money and state stay in step.
    if state == RequestState.SENT:
        _confirm(request, event, effects)
        state = RequestState.CONFIRMED
    if state == RequestState.CONFIRMED:
        request.activate()
        request.activated_at = effects.now
        effects.activated.append(request)
        effects.step("endorsement.activated", request)
        return "applied"
    return "stale" if state == RequestState.ACTIVE else "conflict"


def _apply_member_changes(effects: _Effects) -> None:
    """The member and coverage rows follow activations and rejected additions."""
    if effects.released_members:
        Member.objects.filter(pk__in=effects.released_members, status=Member.Status.PENDING).update(
            status=Member.Status.NOT_COVERED
        )
    if not effects.activated:
        return
    # Only the columns written here: loading the encrypted personal fields would decrypt each one.
    members = {
        m.pk: m
        for m in Member.objects.select_for_update()
        .only("pk", "status", "plan")
        .filter(pk__in=[r.member_id for r in effects.activated])
        .order_by("pk")
    }
    new_coverages: list[Coverage] = []
    for request in effects.activated:
        member = members[request.member_id]
        if request.kind == EndorsementKind.ADDITION:
            member.cover()
            new_coverages.append(
                Coverage(
                    member=member, policy_id=request.policy_id, plan=request.plan, start_date=request.effective_date
                )
            )
            continue
        if request.kind == EndorsementKind.DELETION:
            member.remove()
            _coverage_cut(member.pk, last_day=request.effective_date, now=effects.now)
        else:
            member.plan = request.new_plan
            start = _coverage_cut(
                member.pk, last_day=request.effective_date - datetime.timedelta(days=1), now=effects.now
            )
            new_coverages.append(
                Coverage(member=member, policy_id=request.policy_id, plan=request.new_plan, start_date=start)
            )
    rows_update(Member, list(members.values()), ["status", "plan"])
    rows_insert(Coverage, new_coverages)


def _coverage_cut(member_id: int, *, last_day: datetime.date, now: datetime.datetime) -> datetime.date:
    """End the member's current coverage after `last_day`: periods that would begin later are voided,
    the one in force then ends that day. Returns the day a following period starts: the day after
    `last_day`, or the coverage start when coverage had not begun (a change dated earlier takes
    effect when coverage does)."""
    run = current_run(
        list(Coverage.objects.select_for_update().filter(member_id=member_id, voided_at__isnull=True)),
        start=lambda c: c.start_date,
        end=lambda c: c.end_date,
    )
    voided = [c for c in run if c.start_date > last_day]
    kept = [c for c in run if c.start_date <= last_day and (c.end_date is None or c.end_date > last_day)]
    for period in voided:
        period.voided_at = now
        period.end_date = period.end_date or period.start_date
        period.save(update_fields=["voided_at", "end_date"])
    for period in kept:
        period.end_date = last_day
        period.save(update_fields=["end_date"])
    if voided and not any(c.start_date <= last_day for c in run):
        return min(c.start_date for c in voided)
    return last_day + datetime.timedelta(days=1)
