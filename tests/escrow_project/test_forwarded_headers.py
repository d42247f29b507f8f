"""The real web server (uvicorn, with run_platform's flags): it applies X-Forwarded-For only from
TRUSTED_PROXIES, so a local caller cannot choose its own address (and escape per-IP limits), and it
refuses an oversized API body from its headers, before reading it."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from escrow_project.common.management.commands.run_platform import web_server_argv

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client_address_seen(argv: list[str], port: int) -> str:
    # The platform's own uvicorn flags, serving an app that echoes the client address it was given.
    argv = [a if a != "escrow_project.asgi:application" else "tests.escrow_project.asgi_client_echo:app" for a in argv]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.77"}, timeout=5
                )
                return response.text
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("uvicorn did not start")
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trusted", "seen"),
    [([], "127.0.0.1"), (["10.9.9.9"], "127.0.0.1"), (["127.0.0.1"], "203.0.113.77")],
    ids=["none-trusted", "another-proxy-trusted", "loopback-proxy-trusted"],
)
def test_forwarded_for_is_applied_only_from_a_configured_proxy(settings, trusted, seen):
    settings.TRUSTED_PROXIES = trusted
    port = _free_port()
    assert _client_address_seen(web_server_argv(sys.executable, "127.0.0.1", port), port) == seen


@pytest.mark.slow
def test_the_real_asgi_server_refuses_an_oversized_api_body_with_a_413_problem(tmp_path):
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test", "VAR_DIR": str(tmp_path)}
    process = subprocess.Popen(
        web_server_argv(sys.executable, "127.0.0.1", port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health/live", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("uvicorn did not start")
                time.sleep(0.2)
        # Only the headers are sent: the answer must come without the server waiting for the body.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("POST", "/api/v1/organizations/")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(65 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/problem+json"
        assert json.loads(response.read())["code"] == "request_too_large"
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
