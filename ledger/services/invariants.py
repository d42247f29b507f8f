"""The continuous invariant check: record it, export it, shout when it breaks."""

from __future__ import annotations

import time

import structlog
from prometheus_client import Gauge

from ledger.models import InvariantRun
from ledger.selectors import invariants_check
from ledger.types import InvariantReport

logger = structlog.get_logger(__name__)

INVARIANTS_OK = Gauge(
    "ledger_invariants_ok",
    "1 when the last ledger invariant check passed, 0 on a breach",
    multiprocess_mode="mostrecent",
)
INVARIANT_BREACHES = Gauge(
    "ledger_invariant_breaches", "Breaches found by the last ledger invariant check", multiprocess_mode="mostrecent"
)
INVARIANTS_CHECKED_AT = Gauge(
    "ledger_invariants_checked_timestamp_seconds", "When the ledger was last checked", multiprocess_mode="mostrecent"
)


def invariants_run() -> InvariantReport:
    """Check every invariant, store the run, set the gauges; log at CRITICAL on any breach."""
    started = time.monotonic()
    report = invariants_check()
    InvariantRun.objects.create(
        ok=report.ok, breaches=report.breaches[:200], duration_ms=int((time.monotonic() - started) * 1000)
    )
    INVARIANTS_OK.set(1 if report.ok else 0)
    INVARIANT_BREACHES.set(len(report.breaches))
    INVARIANTS_CHECKED_AT.set_to_current_time()
    if report.ok:
        logger.info("ledger_invariants_ok", accounts=report.accounts_checked, lines=report.lines_checked)
    else:
        logger.critical("ledger_invariants_breached", breaches=report.breaches[:50], count=len(report.breaches))
    return report
