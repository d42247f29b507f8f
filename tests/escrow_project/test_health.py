from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_live_and_ready_report_up_with_latencies(client):
    assert client.get("/health/live").json() == {"status": "up"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    database = ready.json()["checks"]["database"]
    assert database["status"] == "up"
    assert database["latency_ms"] >= 0


def test_ready_is_503_when_the_database_is_unreachable(tmp_path):
    # A separate process whose database points at a closed port: the check really connects and fails.
    script = (
        "import django; django.setup();"
        "from django.test import Client; c = Client();"
        "r = c.get('/health/ready'); l = c.get('/health/live');"
        "import json; print(json.dumps({'ready': r.status_code, 'body': r.json(), 'live': l.status_code}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/unreachable?connect_timeout=2",
        "REDIS_URL": "",
        "VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["live"] == 200
    assert result["ready"] == 503
    assert result["body"]["status"] == "down"
    assert result["body"]["checks"]["database"]["status"] == "down"
