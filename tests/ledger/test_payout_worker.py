"""A payout requested in a committed transaction is dispatched by a REAL Celery worker over Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ledger import services
from ledger.models import PayoutIntent
from ledger.selectors import account_balance
from ledger.states import PayoutStatus
from tests.conftest import requires_postgres

pytestmark = [
    requires_postgres,
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs the real Redis server: set REDIS_URL"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(transactional_db):
    from escrow_project.celery import app

    app.control.purge()  # messages earlier tests queued name rows that no longer exist (ids restart)
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test"}
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
            "-Q",
            "celery",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for(payout_id: int, statuses: set[str], seconds: float = 45) -> PayoutIntent:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        payout = PayoutIntent.objects.get(pk=payout_id)
        if payout.status in statuses:
            return payout
        connection.close()
        time.sleep(0.2)
    raise AssertionError(f"payout {payout_id} still {PayoutIntent.objects.get(pk=payout_id).status}")


def test_worker_dispatches_after_commit_then_failure_and_retry(worker, open_wallet):
    from escrow_project.celery import app

    app.conf.task_always_eager = False  # this test is about the real broker and worker
    wallet = open_wallet("100")

    payout = services.payout_request(
        idempotency_key="worker-1",
        account_id=wallet.pk,
        amount=Decimal("30"),
        currency="USD",
        beneficiary={"simulate": "fail_first_attempt", "iban": "DE89370400440532013000"},
    )
    failed = _wait_for(payout.pk, {PayoutStatus.FAILED, PayoutStatus.SUCCEEDED})
    assert failed.status == PayoutStatus.FAILED
    assert failed.dispatch_count == 1
    assert account_balance(account_id=wallet.pk).balance == Decimal("100")

    retry = services.payout_retry(payout_id=payout.pk, idempotency_key="worker-1-retry")
    settled = _wait_for(retry.pk, {PayoutStatus.FAILED, PayoutStatus.SUCCEEDED})
    assert settled.status == PayoutStatus.SUCCEEDED
    assert settled.provider_reference.startswith("sim_tr_")
    assert account_balance(account_id=wallet.pk).balance == Decimal("70")
