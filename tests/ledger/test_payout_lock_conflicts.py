"""A payout the rail made is always recorded: no deadlock with the audit log, and lock conflicts retried at once.

On the real PostgreSQL: the deadlock needs two processes, and the retried errors are the server's own.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction

from audit.models import AuditEvent
from audit.services import event_record
from ledger import services, signals
from ledger.models import JournalEntry, PayoutIntent
from ledger.rails.simulated import SimulatedRail
from ledger.services import payouts
from ledger.states import PayoutStatus
from tests.conftest import requires_postgres
from tests.locking import run_in_child, until_someone_waits_for_a_lock

pytestmark = [requires_postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CTX = multiprocessing.get_context("fork")
CASE = "case-1"


def _audit(kind: str, payout_id: int) -> None:
    event_record(
        kind=kind, subject_type="test_case", subject_id=CASE, actor="system:test", payload={"payout": payout_id}
    )


def _on_settled(sender: Any, payout_id: int, **kw: Any) -> None:
    """What the escrow app does when a payout succeeds: record it on the case's audit chain."""
    _audit("test.payout_succeeded", payout_id)


@pytest.fixture
def audited_outcomes() -> Iterator[None]:
    signals.payout_succeeded.connect(_on_settled, dispatch_uid="test_payout_audited")
    yield
    signals.payout_succeeded.disconnect(dispatch_uid="test_payout_audited")


@pytest.fixture
def no_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Payout requests stay `requested`: the test drives dispatch and outcome itself."""
    monkeypatch.setattr(payouts, "_dispatch_enqueue", lambda payout_id: None)


def _request(wallet_id: int, key: str) -> PayoutIntent:
    return services.payout_request(
        idempotency_key=key, account_id=wallet_id, amount=Decimal("10"), currency="USD", beneficiary={"iban": "X"}
    )


def _verification_decided(wallet_id: int, head_taken: Any) -> str:
    """The other money transaction of the case: audit first, then a milestone payout (payouts-in-flight)."""
    with transaction.atomic():
        _audit("test.verification_verified", 0)
        head_taken.set()
        if not until_someone_waits_for_a_lock():
            return "the outcome never waited for the audit head"
        _request(wallet_id, "milestone-payout")
    return "ok"


def _record_succeeded(payout_id: int, head_taken: Any) -> str:
    head_taken.wait(timeout=30)
    services.payout_record_outcome(payout_id=payout_id, status=PayoutStatus.SUCCEEDED, provider_reference="sim-1")
    return "ok"


def test_a_payout_outcome_and_a_verification_of_the_same_case_do_not_deadlock(
    open_wallet: Any, audited_outcomes: None, no_dispatch: None
) -> None:
    """The payout outcome waits for the case's audit head before it locks payouts-in-flight.

    Posting the settlement first (the old order) held payouts-in-flight while waiting for the audit
    head, which the verification's transaction held while it waited for payouts-in-flight.
    """
    wallet = open_wallet("100")
    payout = _request(wallet.pk, "first-payout")
    payouts._dispatch_claim(payout.pk)  # the rail was asked; it answers "succeeded"
    connections.close_all()
    queue = CTX.Queue()
    head_taken = CTX.Event()
    procs = [
        CTX.Process(target=run_in_child, args=(_verification_decided, queue, "verification", (wallet.pk, head_taken))),
        CTX.Process(target=run_in_child, args=(_record_succeeded, queue, "outcome", (payout.pk, head_taken))),
    ]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=90) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)

    assert results == {"verification": "ok", "outcome": "ok"}
    assert PayoutIntent.objects.get(pk=payout.pk).status == PayoutStatus.SUCCEEDED
    assert JournalEntry.objects.filter(idempotency_key=f"payout:{payout.public_id}:settled").count() == 1
    assert PayoutIntent.objects.filter(idempotency_key="milestone-payout").count() == 1
    chain = list(AuditEvent.objects.filter(subject_id=CASE).order_by("seq").values_list("kind", flat=True))
    assert chain == ["test.verification_verified", "test.payout_succeeded"]


SERVER_ABORTS = {
    "deadlock": "deadlock_detected",
    "serialization failure": "serialization_failure",
}


@pytest.mark.parametrize("condition", SERVER_ABORTS.values(), ids=SERVER_ABORTS.keys())
def test_a_recording_aborted_by_the_server_is_retried_at_once_without_asking_the_rail_again(
    open_wallet: Any, monkeypatch: pytest.MonkeyPatch, condition: str
) -> None:
    wallet = open_wallet("100")
    with transaction.atomic():  # requested, dispatch not enqueued yet
        monkeypatch.setattr(payouts, "_dispatch_enqueue", lambda payout_id: None)
        payout = _request(wallet.pk, "p1")
    rail_calls: list[str] = []
    send = SimulatedRail.payout_send

    def counted_send(self: SimulatedRail, **kw: Any) -> Any:
        rail_calls.append(kw["idempotency_key"])
        return send(self, **kw)

    monkeypatch.setattr(SimulatedRail, "payout_send", counted_send)
    aborted: list[int] = []

    def abort_first_recording(sender: Any, payout_id: int, **kw: Any) -> None:
        _audit("test.payout_succeeded", payout_id)  # rolled back with the aborted attempt
        if not aborted:
            aborted.append(payout_id)
            with connection.cursor() as cursor:  # the server's own error, as a real deadlock raises it
                cursor.execute(
                    f"DO $$ BEGIN RAISE EXCEPTION 'aborted by the test' USING ERRCODE = '{condition}'; END $$"
                )

    signals.payout_succeeded.connect(abort_first_recording, dispatch_uid="test_abort_once")
    try:
        result = services.payout_dispatch(payout_id=payout.pk)
    finally:
        signals.payout_succeeded.disconnect(dispatch_uid="test_abort_once")

    assert aborted == [payout.pk]
    assert result.status == PayoutStatus.SUCCEEDED
    assert rail_calls == [payout.rail_idempotency_key]  # the rail was asked once
    assert JournalEntry.objects.filter(idempotency_key=f"payout:{payout.public_id}:settled").count() == 1
    assert AuditEvent.objects.filter(subject_id=CASE).count() == 1


def test_other_database_errors_are_not_retried(open_wallet: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    wallet = open_wallet("100")
    monkeypatch.setattr(payouts, "_dispatch_enqueue", lambda payout_id: None)
    payout = _request(wallet.pk, "p1")
    calls: list[int] = []

    def fail(sender: Any, payout_id: int, **kw: Any) -> None:
        calls.append(payout_id)
        with connection.cursor() as cursor:
            cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = 'disk_full'; END $$")

    signals.payout_succeeded.connect(fail, dispatch_uid="test_fail")
    try:
        with pytest.raises(OperationalError):
            services.payout_dispatch(payout_id=payout.pk)
    finally:
        signals.payout_succeeded.disconnect(dispatch_uid="test_fail")
    assert calls == [payout.pk]
    assert PayoutIntent.objects.get(pk=payout.pk).status == PayoutStatus.SENT  # the sweeper's case
