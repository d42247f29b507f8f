"""Prometheus metrics of the notifications app (labels: channel and a short reason only)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from escrow_project.common.metrics import scrape_time_collector_add

ENQUEUED = Counter("notifications_enqueued_total", "Outbox rows written", ["channel"])
SENT = Counter("notifications_sent_total", "Notifications delivered", ["channel"])
FAILED = Counter("notifications_failed_total", "Notifications that failed for good", ["channel", "reason"])
SKIPPED = Counter(
    "notifications_skipped_total", "Notifications skipped (preference, no address)", ["channel", "reason"]
)
RETRIED = Counter("notifications_retries_total", "Transient failures that will be retried", ["channel"])
LATENCY = Histogram(
    "notifications_delivery_seconds",
    "Time spent in one delivery attempt",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
END_TO_END = Histogram(
    "notifications_enqueue_to_sent_seconds",
    "From enqueue to delivered",
    ["channel"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)

_STATE_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class CircuitStateCollector(Collector):
    """Reads the breakers from the database at scrape time, so every process reports the same state."""

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "notifications_circuit_state",
            "Circuit breaker per channel: 0 closed, 1 half-open, 2 open",
            labels=["channel"],
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() the registry would call collect(), and so the database, at import time.
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from notifications.models import ChannelCircuit

        gauge = self._family()
        try:
            for channel, state in ChannelCircuit.objects.values_list("channel", "state"):
                gauge.add_metric([channel], _STATE_VALUE.get(state, 0.0))
        except DatabaseError:
            return  # no database (yet): report nothing rather than break the whole scrape
        yield gauge


_collector_registered = False


def register_collectors() -> None:
    global _collector_registered
    if not _collector_registered:
        scrape_time_collector_add(CircuitStateCollector())
        _collector_registered = True
