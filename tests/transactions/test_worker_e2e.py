"""Initiation to settlement with the sandbox agents, driven by a REAL Celery worker on Redis (not eager)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from escrow_project.celery import app as celery_app
from tests import redis_keys
from tests.conftest import requires_postgres
from tests.transactions.factories import World, close_funds, make_escrow, make_world
from transactions import services
from transactions.models import EscrowTransaction, Payment
from verifications.models import VerificationTask

ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}; worker log tail:\n{tail}")
        time.sleep(0.2)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Path]:
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): the worker and the test meet on the real broker")
    client = redis.Redis.from_url(settings.REDIS_URL)
    celery_app.control.purge()  # messages earlier tests queued for rows that no longer exist
    client.delete(redis_keys.key("unacked"), redis_keys.key("unacked_index"))
    db = connection.settings_dict
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "LOG_FORMAT": "console",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "escrow_project", "worker", "-P", "solo", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"escrow-{uuid.uuid4().hex[:8]}@%h"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        celery_app.control.purge()
        client.delete(redis_keys.key("unacked"), redis_keys.key("unacked_index"))


def _status(txn: EscrowTransaction) -> str:
    return EscrowTransaction.objects.get(pk=txn.pk).status


@requires_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_initiation_to_settlement_with_sandbox_agents_and_a_real_worker(worker: Path) -> None:
    w: World = make_world()
    txn = make_escrow(w)
    services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    order: list[str] = []

    services.deposit_receive(transaction_id=txn.pk, kind="earnest", amount="20000.00", actor=w.officer)

    def verified_in_order() -> bool:
        for task in VerificationTask.objects.filter(workflow_id=txn.workflow_id, status="verified").order_by(
            "decided_at"
        ):
            if task.verification_type not in order:
                order.append(task.verification_type)
        return _status(txn) == "clear_to_close"

    _wait(verified_in_order, 60, "the sandbox agents to verify everything", worker)
    assert order.index("appraisal") > order.index("inspection")
    assert order.index("lending") > max(order.index("title"), order.index("appraisal"))
    _wait(
        lambda: Payment.objects.filter(transaction=txn, status="succeeded").count() == 3,
        30,
        "the three milestone payouts",
        worker,
    )

    close_funds(w, EscrowTransaction.objects.get(pk=txn.pk))
    services.settlement_execute(transaction_id=txn.pk, actor=w.officer)
    _wait(
        lambda: Payment.objects.filter(transaction=txn, kind="settlement", status="succeeded").count() == 5,
        30,
        "the settlement payouts",
        worker,
    )

    assert _status(txn) == "settled"
    seller = Payment.objects.get(transaction=txn, kind="settlement", payee=w.seller)
    assert seller.amount == Decimal("376740.00")
    assert not Payment.objects.exclude(status="succeeded").exists()
