from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import structlog
from django.db import DatabaseError, IntegrityError, connection, transaction

from audit import canonical
from audit.models import AuditEvent, SubjectHead
from audit.services import event_record
from escrow_project.common.errors import UnprocessableError
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db


def record(subject_id: str = "c1", **kw: object) -> AuditEvent:
    args: dict[str, object] = {
        "kind": "escrow.funded",
        "subject_type": "test_case",
        "subject_id": subject_id,
        "actor": "user:alice",
        "payload": {"amount": Decimal("1500.2500"), "currency": "EUR"},
    }
    args.update(kw)
    return event_record(**args)  # type: ignore[arg-type]


def recompute(event: AuditEvent) -> str:
    return canonical.event_hash(
        canonical.event_record(
            kind=event.kind,
            subject_type=event.subject_type,
            subject_id=event.subject_id,
            seq=event.seq,
            prev_hash=event.prev_hash,
            actor=event.actor,
            occurred_at=event.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            request_id=event.request_id,
            payload=event.payload,
            salt=event.salt,
        )
    )


def test_events_of_one_subject_form_a_hash_chain_and_other_subjects_their_own() -> None:
    first = record()
    second = record(kind="escrow.milestone_released")
    other = record("c2")

    assert (first.seq, first.prev_hash) == (1, canonical.ZERO_HASH)
    assert (second.seq, second.prev_hash) == (2, first.event_hash)
    assert (other.seq, other.prev_hash) == (1, canonical.ZERO_HASH)
    head = SubjectHead.objects.get(subject_type="test_case", subject_id="c1")
    assert (head.length, head.head_hash) == (2, second.event_hash)


def test_the_stored_row_recomputes_to_its_hash_and_salts_differ() -> None:
    a = record(occurred_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC))
    b = record("c3", occurred_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC))
    a.refresh_from_db()
    assert a.payload == {"amount": "1500.2500", "currency": "EUR"}
    assert recompute(a) == a.event_hash
    assert a.salt != b.salt
    assert a.leaf_index is None


def test_request_id_comes_from_the_logging_context_unless_given() -> None:
    structlog.contextvars.bind_contextvars(request_id="req-123")
    try:
        assert record().request_id == "req-123"
        assert record(request_id="explicit").request_id == "explicit"
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    assert record().request_id == ""


def test_a_rolled_back_business_change_leaves_no_event() -> None:
    record()

    class BusinessRuleBroken(Exception):
        pass

    def business_change() -> None:
        with transaction.atomic():
            record(kind="escrow.milestone_released")
            raise BusinessRuleBroken

    with pytest.raises(BusinessRuleBroken):
        business_change()

    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1]
    assert SubjectHead.objects.get(subject_id="c1").length == 1
    # The chain continues from the surviving event, not from the rolled-back one.
    assert record().seq == 2


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"payload": {"amount": 1.5}}, "audit_payload_float"),
        ({"payload": {"x": object()}}, "audit_payload_invalid"),
        ({"payload": ["not", "a", "dict"]}, "audit_payload_invalid"),
        ({"payload": {"note": "a\x00b"}}, "audit_payload_invalid"),
        ({"kind": ""}, "audit_event_invalid"),
        ({"subject_id": "c\x001"}, "audit_event_invalid"),
        ({"subject_type": "x" * 65}, "audit_event_invalid"),
        ({"occurred_at": dt.datetime(2026, 1, 1)}, "audit_naive_datetime"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(kw: dict[str, Any], code: str) -> None:
    with pytest.raises(UnprocessableError) as info:
        record(**kw)
    assert info.value.code == code
    assert AuditEvent.objects.count() == 0
    assert SubjectHead.objects.count() == 0


def test_the_database_refuses_to_update_an_event() -> None:
    event = record()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(payload={"amount": "1.0000"})
    event.refresh_from_db()
    assert event.payload["amount"] == "1500.2500"


def test_the_database_refuses_to_delete_an_event_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps DELETE for the test flush; see docs/decisions/0202-audit-design.md")
    event = record()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


AWKWARD_PAYLOADS = [
    {},
    {
        "quote": 'say "hi"\\',
        "unicode": "Z\u00fcrich \u2013 \u6771\u4eac \U0001f3e0",
        "nested": {"b": [1, None, True], "a": {}},
    },
    {"long": "x" * 5000, "n": -12345678901234567890, "tab": "a\tb\nc\u2028d"},
]


@pytest.mark.parametrize("payload", AWKWARD_PAYLOADS, ids=["empty", "unicode-and-quotes", "long-and-control"])
def test_the_record_parts_join_to_the_canonical_record(payload: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "kind": "escrow.funded",
        "subject_type": "test_case",
        "subject_id": 'id "with" ü',
        "actor": "user:ä",
        "occurred_at": "2026-01-02T03:04:05.678901+00:00",
        "request_id": "",
        "payload": payload,
        "salt": "ab" * 16,
    }
    a, b, c = canonical.event_record_parts(**fields)
    for seq, prev in ((1, canonical.ZERO_HASH), (12345, "cd" * 32)):
        assert (a + prev + b + str(seq) + c).encode() == canonical.dumps(
            canonical.event_record(seq=seq, prev_hash=prev, **fields)
        )


@pytest.mark.parametrize("payload", AWKWARD_PAYLOADS, ids=["empty", "unicode-and-quotes", "long-and-control"])
def test_the_database_chains_awkward_events_as_the_verifier_recomputes_them(payload: dict[str, Any]) -> None:
    events = [record('id "with" ü', payload=payload, actor="user:ä") for _ in range(3)]
    stored = list(AuditEvent.objects.filter(subject_id='id "with" ü').order_by("seq"))
    assert [recompute(e) for e in stored] == [e.event_hash for e in events]
    assert [e.prev_hash for e in stored] == [canonical.ZERO_HASH, events[0].event_hash, events[1].event_hash]


@requires_postgres
def test_an_event_the_database_hashed_differently_is_refused_and_nothing_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record()
    real = canonical.event_record_parts

    def drifted(**kw: Any) -> tuple[str, str, str]:
        a, b, c = real(**kw)
        return a.replace('"kind":', '"kind": '), b, c  # text the verifier would never produce

    monkeypatch.setattr(canonical, "event_record_parts", drifted)
    with pytest.raises(RuntimeError, match="the database hashed event seq 2 differently"), transaction.atomic():
        record(kind="escrow.milestone_released")
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1]
    assert SubjectHead.objects.get(subject_id="c1").length == 1
