"""Top-ups and submissions racing on the real PostgreSQL, in separate processes."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from endorsements import funds
from endorsements.models import EndorsementAccount, EndorsementRequest
from endorsements.services import funding
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from tests.conftest import requires_postgres
from tests.endorsements.conftest import LIVE_TERM, addition, day, make_world

pytestmark = [requires_postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CTX = multiprocessing.get_context("fork")
TOPUPS_PER_WORKER = 15
TOPUP = Decimal("50.00")
SUBMITS_PER_WORKER = 15


def _child(target: Any, queue: Any, index: int, args: tuple[Any, ...]) -> None:
    try:
        result = target(*args)
    except BaseException as exc:  # noqa: BLE001 - report any crash to the parent instead of hanging it
        result = f"CRASH {type(exc).__name__}: {exc}"
    finally:
        connections.close_all()
    queue.put((index, result))


def _fork(jobs: list[tuple[Any, tuple[Any, ...]]]) -> list[Any]:
    connections.close_all()  # each child opens its own connection
    queue = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(target, queue, i, args)) for i, (target, args) in enumerate(jobs)]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    crashes = [r for r in results.values() if isinstance(r, str) and r.startswith("CRASH")]
    assert not crashes, crashes
    return [results[i] for i in range(len(procs))]


def _topups(employer_id: int, worker: int) -> int:
    from identity.models import Organization

    employer = Organization.objects.get(pk=employer_id)
    for i in range(TOPUPS_PER_WORKER):
        funding.ea_topup(
            employer=employer, amount=TOPUP, currency="USD", idempotency_key=f"w{worker}-{i}", actor="test"
        )
    return TOPUPS_PER_WORKER


def _submits(employer_id: int, worker: int) -> int:
    from identity.models import Organization

    employer = Organization.objects.get(pk=employer_id)
    for i in range(SUBMITS_PER_WORKER):
        # 1.00 per remaining day: amounts 150..164, all different effective dates.
        endorsement_submit(
            employer=employer, data=addition(f"W{worker}-{i}", effective=day(1 + i), plan="DAY"), actor="test"
        )
    return SUBMITS_PER_WORKER


def test_concurrent_topups_and_submissions_never_overdraw_or_double_lock():
    world = make_world(term=LIVE_TERM)
    employer_id = world.employer.pk
    _fork(
        [
            (_topups, (employer_id, 0)),
            (_topups, (employer_id, 1)),
            (_submits, (employer_id, 0)),
            (_submits, (employer_id, 1)),
        ]
    )
    # A last wake in case the final top-up committed while the last submission was parking.
    funding.ea_drain(employer_id=employer_id, currency="USD")

    from ledger.models import Hold
    from ledger.selectors import invariants_check

    ea = EndorsementAccount.objects.get(employer_id=employer_id)
    summary = funds.balance_summary(ea)
    requests = list(EndorsementRequest.objects.filter(employer_id=employer_id))
    locked = [r for r in requests if r.state == RequestState.FUND_LOCKED]
    parked = sorted(
        (r for r in requests if r.state == RequestState.ON_HOLD_FUNDS), key=lambda r: (r.effective_date, r.created_at)
    )
    assert len(requests) == 2 * SUBMITS_PER_WORKER
    assert {r.state for r in requests} <= {RequestState.FUND_LOCKED, RequestState.ON_HOLD_FUNDS}
    assert summary["balance"] == 2 * TOPUPS_PER_WORKER * TOPUP
    assert summary["available"] >= 0
    # Every locked request has exactly one hold, and the holds are exactly the locked amount.
    assert len({r.hold_id for r in locked}) == len(locked)
    holds = Hold.objects.filter(debit_account_id=int(ea.ledger_account_id))
    assert holds.count() == len(locked)
    assert summary["locked"] == sum((r.amount for r in locked), Decimal(0))
    # What stays parked really does not fit, and it is the youngest effective dates that wait.
    if parked:
        assert parked[0].amount > summary["available"]
        assert max(r.effective_date for r in locked) <= parked[0].effective_date
    assert invariants_check().ok
