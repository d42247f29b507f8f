"""The Prometheus endpoint, visible only to scrapers: payout outcomes, invariant state and volumes
are operational intelligence, not public information.

Counters are counted where the work happens, mostly in Celery workers. With
PROMETHEUS_MULTIPROC_DIR set (the embedded default sets it; compose and the Dockerfile do too),
every process (web, workers, beat) writes its values to files there and this endpoint sums them,
so one scrape of the web process shows the whole platform. Collectors that read the database at
scrape time are registered here as well, because the multiprocess registry only reads the files.
"""

from __future__ import annotations

import hmac
import os
import shutil
from pathlib import Path

import prometheus_client
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import multiprocess
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_scrape_time_collectors: list[Collector] = []


def scrape_time_collector_add(collector: Collector) -> None:
    """Register a collector that computes its values when scraped (say, from the database)."""
    prometheus_client.REGISTRY.register(collector)
    _scrape_time_collectors.append(collector)


def multiprocess_dir_reset(path: Path) -> None:
    """Start a platform run with an empty metrics directory: files of processes from an earlier run
    would otherwise be summed in (their counters) or reported forever (their gauges)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def process_exited(pid: int) -> None:
    """A worker child exited: its live gauges go; its counters stay in the sums."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def _registry() -> prometheus_client.CollectorRegistry:
    if not os.environ.get(MULTIPROC_ENV):
        return prometheus_client.REGISTRY
    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in _scrape_time_collectors:
        registry.register(collector)
    return registry


def _bearer_token_matches(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    supplied = request.headers.get("Authorization", "")
    return bool(expected) and hmac.compare_digest(supplied.encode(), f"Bearer {expected}".encode())


def metrics_allowed(request: HttpRequest) -> bool:
    # REMOTE_ADDR, never X-Forwarded-For: a caller writes that header itself.
    return _bearer_token_matches(request) or request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404  # 404, not 403: do not confirm the endpoint exists
    return HttpResponse(
        prometheus_client.generate_latest(_registry()), content_type=prometheus_client.CONTENT_TYPE_LATEST
    )
