"""What a Celery worker counts is visible at the web process's /metrics (prometheus multiprocess mode).

Real pieces: a Celery worker subprocess on the Redis broker and the test PostgreSQL database, and
a separate process serving /metrics; they share only PROMETHEUS_MULTIPROC_DIR, as web and workers
do on the embedded default and in docker-compose.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from escrow_project.celery import app as celery_app
from ledger.tasks import invariants_check_task
from tests.conftest import requires_postgres

ROOT = Path(__file__).resolve().parents[2]
SCRAPE = (
    "import django; django.setup(); from django.test import Client; "
    "import sys; sys.stdout.write(Client().get('/metrics').content.decode())"
)


def _env(metrics_dir: Path) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_FORMAT": "console",
    }


def _checked_at(page: str) -> float:
    """The last invariant check time any process reported (the gauge is `mostrecent`: one series, no pid)."""
    found = re.search(r"^ledger_invariants_checked_timestamp_seconds (\S+)$", page, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _scrape(metrics_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRAPE], cwd=ROOT, env=_env(metrics_dir), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@requires_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_gauge_set_in_a_worker_shows_at_the_web_metrics_endpoint(tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): the worker and the test meet on the real broker")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    assert not _checked_at(_scrape(metrics_dir))  # nothing has checked the ledger yet

    celery_app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "escrow_project", "worker", "-P", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"metrics-{uuid.uuid4().hex[:8]}@%h"],
        cwd=ROOT, env=_env(metrics_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        invariants_check_task.delay()
        deadline = time.monotonic() + 90
        while not _checked_at(page := _scrape(metrics_dir)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert abs(_checked_at(page) - time.time()) < 300  # set in the worker's process, and only there
        assert re.search(r"^ledger_invariants_ok 1\.0$", page, re.MULTILINE)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        celery_app.control.purge()
