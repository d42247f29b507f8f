"""The whole trip with real processes: API upload -> Celery worker -> sandbox insurer -> signed callbacks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from endorsements import funds
from endorsements.models import (
    Batch,
    Dispatch,
    EndorsementAccount,
    EndorsementRequest,
    GatewayExchange,
    InsurerEvent,
)
from endorsements.services import dispatch, funding
from endorsements.states import RequestState
from tests import redis_keys
from tests.conftest import requires_postgres
from tests.endorsements.conftest import LIVE_TERM, SECRET, day, make_world

pytestmark = [
    requires_postgres,
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs the real Redis broker: set REDIS_URL (CI does)"),
]
ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sandbox(live_server) -> Iterator[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "endorsements.sandbox",
            "--port",
            "0",
            "--api-key",
            "sandbox-key",
            "--secret",
            SECRET,
            "--delay-ms",
            "100",
            "--fail-first",
            "1",
            "--callback-base",
            live_server.url,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line
    yield line.strip().rsplit(" ", 1)[-1]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def worker() -> Iterator[None]:
    redis_keys.forget_mine()  # my own Redis keys: no stale tasks from earlier runs
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "ENDORSEMENTS_RETRY_BASE_SECONDS": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "escrow_project",
            "worker",
            "-P",
            "solo",
            "-c",
            "1",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_round_trip_through_the_sandbox_insurer_and_a_real_worker(sandbox, worker, client_for):
    world = make_world(term=LIVE_TERM, base_url=sandbox)
    funding.ea_topup(employer=world.employer, amount="1000.00", currency="USD", idempotency_key="t1", actor="test")
    header = "policy_number,kind,member_id,name,date_of_birth,relationship,plan,effective_date\n"
    rows = [
        f"GP-1001,addition,E-1,Ann One,1990-01-01,employee,DAY,{day(5)}",
        f"GP-1001,addition,REJ-2,Rex Two,1990-01-01,employee,DAY,{day(6)}",
        f"GP-1001,addition,E-3,Cy Three,1990-01-01,employee,GOLD,{day(5)}",
    ]
    upload = SimpleUploadedFile("e.csv", (header + "\n".join(rows)).encode(), content_type="text/csv")
    response = client_for(world.hr).post("/api/v1/endorsements/batch", {"file": upload}, format="multipart")
    assert response.status_code == 202
    batch = Batch.objects.get(public_id=response.json()["id"])

    # The worker processes the file and locks funds for the accepted rows.
    wait_for(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.COMPLETED, "the batch")
    batch.refresh_from_db()
    assert (batch.rows_accepted, batch.rows_rejected) == (2, 1)
    wait_for(
        lambda: EndorsementRequest.objects.filter(batch=batch, state=RequestState.FUND_LOCKED).count() == 2,
        "fund locks",
    )

    # The window closes; the worker delivers (the sandbox refuses the first attempt with a 503, the
    # retry goes through) and the insurer calls back: one confirmed and activated, one rejected.
    dispatch.scheduler_tick(force=True)
    wait_for(
        lambda: (
            set(EndorsementRequest.objects.filter(batch=batch).values_list("state", flat=True))
            == {RequestState.ACTIVE, RequestState.REJECTED}
        ),
        "the insurer's answers",
    )
    active = EndorsementRequest.objects.get(batch=batch, state=RequestState.ACTIVE)
    rejected = EndorsementRequest.objects.get(batch=batch, state=RequestState.REJECTED)
    assert active.member.member_id == "E-1"
    assert rejected.rejection_reason
    [sent] = Dispatch.objects.all()
    assert (sent.status, sent.attempts) == (Dispatch.Status.ACKNOWLEDGED, 2)
    exchanges = list(GatewayExchange.objects.order_by("pk").values_list("response_status", "idempotency_key"))
    assert [s for s, _ in exchanges] == [503, 202]
    assert {k for _, k in exchanges} == {sent.idempotency_key}  # the retry reused the key
    assert set(InsurerEvent.objects.values_list("outcome", flat=True)) == {"applied"}
    assert InsurerEvent.objects.count() == 3

    ea = EndorsementAccount.objects.get(employer=world.employer)
    summary = funds.balance_summary(ea)
    assert summary == {
        "balance": Decimal("1000.00") - active.amount,
        "available": Decimal("1000.00") - active.amount,
        "locked": Decimal(0),
    }
    from ledger.selectors import invariants_check

    assert invariants_check().ok
