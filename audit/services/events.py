"""Recording events: the per-subject hash chain."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client import Counter

from audit import canonical
from audit.kinds import audit_kind_is_registered
from audit.models import AuditEvent, PendingEvent, SubjectHead
from escrow_project.common.errors import UnprocessableError

logger = structlog.get_logger(__name__)

EVENTS_RECORDED = Counter("audit_events_recorded_total", "Audit events recorded.", ["subject_type"])

_LIMITS = {"kind": 100, "subject_type": 64, "subject_id": 128, "actor": 200}


def _jsonable(value: Any, path: str) -> Any:
    """A plain-JSON copy of the payload; refuses what has no single canonical text."""
    if isinstance(value, str) and "\x00" in value:
        # PostgreSQL's jsonb cannot store NUL, and a stored value must read back exactly as hashed.
        raise UnprocessableError(f"Audit payload field {path} contains a NUL character.", code="audit_payload_invalid")
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


# PostgreSQL fast path: one statement per event. The upsert takes the same row lock as SELECT
# ... FOR UPDATE (and creates the head on a subject's first event), advances the length and
# computes the event hash from the canonical text around seq and prev_hash (canonical.
# event_record_parts), so the previous head never travels to Python and back; the same statement
# writes the event and queues it for sealing. Python recomputes the hash from the returned seq and
# prev_hash and refuses a mismatch, so the SQL can never chain anything the verifier would not.
_PG_APPEND = r"""
WITH head AS (
    INSERT INTO audit_subjecthead (subject_type, subject_id, length, prev_head_hash, head_hash, updated_at)
    VALUES (%(subject_type)s, %(subject_id)s, 1, %(zero)s,
            encode(sha256('\x00'::bytea || convert_to(%(a)s || %(zero)s || %(b)s || '1' || %(c)s, 'UTF8')), 'hex'),
            now())
    ON CONFLICT (subject_type, subject_id) DO UPDATE SET
        length = audit_subjecthead.length + 1,
        prev_head_hash = audit_subjecthead.head_hash,
        head_hash = encode(sha256('\x00'::bytea || convert_to(
            %(a)s || audit_subjecthead.head_hash || %(b)s || (audit_subjecthead.length + 1)::text || %(c)s, 'UTF8'
        )), 'hex'),
        updated_at = now()
    RETURNING length, prev_head_hash, head_hash
), ev AS (
    INSERT INTO audit_auditevent (kind, subject_type, subject_id, seq, prev_hash, actor, occurred_at, recorded_at,
                                  request_id, payload, salt, event_hash)
    SELECT %(kind)s, %(subject_type)s, %(subject_id)s, length, prev_head_hash, %(actor)s, %(occurred_at)s,
           %(recorded_at)s, %(request_id)s, %(payload)s::jsonb, %(salt)s, head_hash
    FROM head
    RETURNING id, seq, prev_hash, event_hash
), queued AS (
    INSERT INTO audit_pendingevent (event_id) SELECT id FROM ev
)
SELECT id, seq, prev_hash, event_hash FROM ev
"""


def _append_postgres(fields: dict[str, Any], payload_text: str) -> AuditEvent:
    a, b, c = canonical.event_record_parts(
        kind=fields["kind"],
        subject_type=fields["subject_type"],
        subject_id=fields["subject_id"],
        actor=fields["actor"],
        occurred_at=canonical_time(fields["occurred_at"]),
        request_id=fields["request_id"],
        payload=fields["payload"],
        salt=fields["salt"],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _PG_APPEND,
            {**fields, "payload": payload_text, "a": a, "b": b, "c": c, "zero": canonical.ZERO_HASH},
        )
        event_id, seq, prev_hash, event_hash = cursor.fetchone()
    fields.update(seq=seq, prev_hash=prev_hash)
    fields["event_hash"] = canonical.event_hash(_record(fields))
    if fields["event_hash"] != event_hash:  # raising rolls the caller back: nothing unverifiable is kept
        raise RuntimeError(f"audit: the database hashed event seq {seq} differently; refusing to record it")
    event = AuditEvent(id=event_id, **fields)
    event._state.adding = False
    event._state.db = connection.alias
    return event


def _append_orm(fields: dict[str, Any]) -> AuditEvent:
    head = _lock_head(fields["subject_type"], fields["subject_id"])
    fields.update(seq=head.length + 1, prev_hash=head.head_hash or canonical.ZERO_HASH)
    fields["event_hash"] = canonical.event_hash(_record(fields))
    event = AuditEvent.objects.create(**fields)
    PendingEvent.objects.create(event=event)
    SubjectHead.objects.filter(pk=head.pk).update(
        length=fields["seq"], prev_head_hash=head.head_hash, head_hash=fields["event_hash"], updated_at=timezone.now()
    )
    return event


def _record(fields: dict[str, Any]) -> dict[str, Any]:
    return canonical.event_record(
        kind=fields["kind"],
        subject_type=fields["subject_type"],
        subject_id=fields["subject_id"],
        seq=fields["seq"],
        prev_hash=fields["prev_hash"],
        actor=fields["actor"],
        occurred_at=canonical_time(fields["occurred_at"]),
        request_id=fields["request_id"],
        payload=fields["payload"],
        salt=fields["salt"],
    )


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
    fields = event_fields(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        payload=payload,
        occurred_at=occurred_at,
        request_id=request_id,
    )
    # event_fields validates and raises before this block, so a refused event leaves the caller's
    # transaction usable. No savepoint: a database failure here must roll the caller back anyway, and two
    # SAVEPOINT round trips per event would be a third of its cost.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            event = _append_postgres(fields, canonical.dumps(fields["payload"]).decode())
        else:
            event = _append_orm(fields)
    EVENTS_RECORDED.labels(subject_type=subject_type).inc()
    return event


def event_fields(
    *,
    kind: str,
    subject_type: str,
    subject_id: str,
    actor: str,
    payload: dict[str, Any],
    occurred_at: dt.datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The validated columns of an event before chaining (no seq, prev_hash or hash yet).

    Public for `audit.bench`, which measures a caller-side append without the chain step.
    """
    subject_id = str(subject_id)
    names = {"kind": kind, "subject_type": subject_type, "subject_id": subject_id, "actor": actor}
    errors = [
        {"field": name, "message": f"must be a non-empty string of at most {_LIMITS[name]} characters"}
        for name, value in names.items()
        if not isinstance(value, str) or not value.strip() or len(value) > _LIMITS[name] or "\x00" in value
    ]
    if errors:
        raise UnprocessableError("The audit event is incomplete.", code="audit_event_invalid", errors=errors)
    if getattr(settings, "AUDIT_KINDS_STRICT", False) and not audit_kind_is_registered(kind):
        # Tests run strict: a kind on a trail must be in the registry (and so in docs/audit-events.md).
        raise LookupError(f"audit kind {kind!r} is not registered: add it to its app's audit_kinds.py")
    if not isinstance(payload, dict):
        raise UnprocessableError("The audit payload must be an object.", code="audit_payload_invalid")
    clean_payload = _jsonable(payload, "payload")
    when = occurred_at or timezone.now()
    when_text = canonical_time(when)
    rid = (request_id if request_id is not None else _current_request_id())[:128]

    fields: dict[str, Any] = {
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "actor": actor,
        # Stored exactly as hashed: UTC, microseconds.
        "occurred_at": dt.datetime.fromisoformat(when_text),
        "recorded_at": timezone.now(),
        "request_id": rid,
        "payload": clean_payload,
        "salt": secrets.token_hex(16),
    }
    return fields
