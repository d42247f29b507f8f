"""The incident: a milestone payout's outcome and another verification of the same escrow, at once.

Real PostgreSQL, two processes, the real services and receivers. The verification's transaction
holds the case's locks (transaction row, audit head) while the payout outcome is being recorded;
the outcome must queue behind it, not deadlock with it and roll back a payment the rail made.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from django.db import connections, transaction

from audit.models import AuditEvent
from ledger import services as ledger_services
from ledger.models import PayoutIntent
from ledger.services import payouts
from ledger.states import PayoutStatus
from tests.conftest import requires_postgres
from tests.locking import run_in_child, until_someone_waits_for_a_lock
from tests.transactions.factories import World, deliver, fund, make_escrow, make_world
from transactions.models import Payment, PaymentStatus
from transactions.services._common import audit, txn_lock

pytestmark = [requires_postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CTX = multiprocessing.get_context("fork")


@pytest.fixture
def w(transactional_db: None) -> World:
    return make_world()


def _inspection_decided(txn_id: int, case_locked: Any) -> str:
    """What a decided verification does, held open until the payout outcome is waiting for it."""
    from transactions.models import EscrowTransaction

    txn = EscrowTransaction.objects.get(pk=txn_id)
    with transaction.atomic():
        audit("escrow.verification_note", txn_lock(txn_id), None)  # the case's row and audit head
        case_locked.set()
        if not until_someone_waits_for_a_lock():
            return "the payout outcome never waited for the case"
        deliver(txn, "inspection")  # verified: the inspection milestone's payout locks payouts-in-flight
    return "ok"


def _title_payout_succeeded(payout_id: int, case_locked: Any) -> str:
    case_locked.wait(timeout=30)
    ledger_services.payout_record_outcome(payout_id=payout_id, status=PayoutStatus.SUCCEEDED, provider_reference="tr_1")
    return "ok"


def test_a_milestone_payout_outcome_queues_behind_another_verification_of_the_case(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payouts, "_dispatch_enqueue", lambda payout_id: None)  # the test sends and answers
    txn = fund(w, make_escrow(w))
    deliver(txn, "title")
    title = Payment.objects.get(transaction=txn, milestone__verification_type="title")
    assert title.payout_id is not None
    payouts._dispatch_claim(title.payout_id)  # sent to the rail, which will say "succeeded"
    connections.close_all()
    queue = CTX.Queue()
    case_locked = CTX.Event()
    procs = [
        CTX.Process(target=run_in_child, args=(_inspection_decided, queue, "inspection", (txn.pk, case_locked))),
        CTX.Process(
            target=run_in_child, args=(_title_payout_succeeded, queue, "payout", (title.payout_id, case_locked))
        ),
    ]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)

    assert results == {"inspection": "ok", "payout": "ok"}
    assert PayoutIntent.objects.get(pk=title.payout_id).status == PayoutStatus.SUCCEEDED
    assert Payment.objects.get(pk=title.pk).status == PaymentStatus.SUCCEEDED
    inspection = Payment.objects.get(transaction=txn, milestone__verification_type="inspection")
    assert inspection.status == PaymentStatus.REQUESTED
    kinds = list(
        AuditEvent.objects.filter(subject_id=str(txn.public_id)).order_by("seq").values_list("kind", flat=True)
    )
    assert kinds.index("escrow.verification_note") < kinds.index("escrow.payout_succeeded")
