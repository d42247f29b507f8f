"""Recording events: the per-subject hash chain."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from audit import canonical
from audit.models import AuditEvent, SubjectHead
from escrow_project.common.errors import UnprocessableError

logger = structlog.get_logger(__name__)

EVENTS_RECORDED = Counter("audit_events_recorded_total", "Audit events recorded.", ["subject_type"])

_LIMITS = {"kind": 100, "subject_type": 64, "subject_id": 128, "actor": 200}


def _jsonable(value: Any, path: str) -> Any:
    """A plain-JSON copy of the payload; refuses what has no single canonical text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        raise UnprocessableError(
            f"Audit payload field {path} is a float; pass money and measures as Decimal or string.",
            code="audit_payload_float",
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnprocessableError(
                f"Audit payload field {path} is not a finite number.", code="audit_payload_invalid"
            )
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnprocessableError(
                    f"Audit payload key {key!r} at {path} is not a string.", code="audit_payload_invalid"
                )
            out[key] = _jsonable(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise UnprocessableError(
        f"Audit payload field {path} has type {type(value).__name__}, which is not JSON.", code="audit_payload_invalid"
    )


def canonical_time(value: dt.datetime) -> str:
    """UTC, microseconds: exactly what the database stores, so the hash can be recomputed."""
    if timezone.is_naive(value):
        raise UnprocessableError("occurred_at must be timezone-aware.", code="audit_naive_datetime")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _current_request_id() -> str:
    return str(structlog.contextvars.get_contextvars().get("request_id") or "")


def _lock_head(subject_type: str, subject_id: str) -> SubjectHead:
    head = SubjectHead.objects.select_for_update().filter(subject_type=subject_type, subject_id=subject_id).first()
    if head is None:
        # Two first events of one subject may race here; the unique constraint lets one insert win
        # and both then queue on the same row lock.
        SubjectHead.objects.bulk_create(
            [SubjectHead(subject_type=subject_type, subject_id=subject_id)], ignore_conflicts=True
        )
        head = SubjectHead.objects.select_for_update().get(subject_type=subject_type, subject_id=subject_id)
    return head


@transaction.atomic
def event_record(
    *,
    kind: str,
    subject_type: str,
    subject_id: str,
    actor: str,
    payload: dict[str, Any],
    occurred_at: dt.datetime | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event to its subject's hash chain, in the caller's transaction."""
    subject_id = str(subject_id)
    fields = {"kind": kind, "subject_type": subject_type, "subject_id": subject_id, "actor": actor}
    errors = [
        {"field": name, "message": f"must be a non-empty string of at most {_LIMITS[name]} characters"}
        for name, value in fields.items()
        if not isinstance(value, str) or not value.strip() or len(value) > _LIMITS[name]
    ]
    if errors:
        raise UnprocessableError("The audit event is incomplete.", code="audit_event_invalid", errors=errors)
    if not isinstance(payload, dict):
        raise UnprocessableError("The audit payload must be an object.", code="audit_payload_invalid")
    clean_payload = _jsonable(payload, "payload")
    when = occurred_at or timezone.now()
    when_text = canonical_time(when)
    rid = (request_id if request_id is not None else _current_request_id())[:128]

    head = _lock_head(subject_type, subject_id)
    seq = head.length + 1
    prev_hash = head.head_hash or canonical.ZERO_HASH
    salt = secrets.token_hex(16)
    record = canonical.event_record(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        seq=seq,
        prev_hash=prev_hash,
        actor=actor,
        occurred_at=when_text,
        request_id=rid,
        payload=clean_payload,
        salt=salt,
    )
    event_hash = canonical.event_hash(record)
    event = AuditEvent.objects.create(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        seq=seq,
        prev_hash=prev_hash,
        actor=actor,
        occurred_at=dt.datetime.fromisoformat(when_text),
        request_id=rid,
        payload=clean_payload,
        salt=salt,
        event_hash=event_hash,
    )
    SubjectHead.objects.filter(pk=head.pk).update(length=seq, head_hash=event_hash, updated_at=timezone.now())
    EVENTS_RECORDED.labels(subject_type=subject_type).inc()
    return event
