"""`Server-Timing: app;dur=<ms>, cpu;dur=<ms>` on every response when SERVER_TIMING is on.

The wall time a client measures includes queueing in front of a busy process; the time the
request spent in the application, and the CPU its thread used, do not, so a benchmark on a shared
machine can tell a slower route from a busier neighbour. Off by default: it tells a caller how
long its request took inside, which nobody outside needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse


class ServerTimingMiddleware:
    """Sync only, so everything inside it runs on the request's one thread and thread CPU time
    counts that request alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not getattr(settings, "SERVER_TIMING", False):
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        wall, cpu = time.perf_counter(), time.thread_time()
        response = self.get_response(request)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        response["Server-Timing"] = f"app;dur={wall * 1000:.1f}, cpu;dur={cpu * 1000:.1f}"
        return response
