"""Server-Timing: off by default (it tells a caller how long its request took inside), on for benchmarks."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings


@pytest.mark.django_db
def test_server_timing_is_sent_only_when_switched_on() -> None:
    assert "Server-Timing" not in Client().get("/health/live").headers
    with override_settings(SERVER_TIMING=True):
        header = Client().get("/health/live").headers["Server-Timing"]
    assert re.fullmatch(r"app;dur=\d+\.\d, cpu;dur=\d+\.\d", header)
