"""Circuit breaker per channel, kept in one database row so every worker shares it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.models import ChannelCircuit, CircuitState

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CircuitDecision:
    allowed: bool
    retry_at: datetime | None = None
    probe: bool = False


def _locked(channel: str) -> ChannelCircuit:
    ChannelCircuit.objects.get_or_create(channel=channel)
    return ChannelCircuit.objects.select_for_update().get(channel=channel)


@transaction.atomic
def circuit_acquire(*, channel: str) -> CircuitDecision:
    """May a delivery on `channel` go out now? Half-open lets exactly one trial through."""
    # Fast path without a lock: the breaker is closed almost always. A send racing the opening is
    # harmless; the breaker bounds the damage, it does not need to be exact.
    state = ChannelCircuit.objects.filter(channel=channel).values_list("state", flat=True).first()
    if state in (None, CircuitState.CLOSED):
        return CircuitDecision(allowed=True)
    circuit = _locked(channel)
    now = timezone.now()
    if circuit.state == CircuitState.CLOSED:
        return CircuitDecision(allowed=True)
    lease = timedelta(seconds=settings.NOTIFICATIONS_DELIVERY_LEASE_SECONDS)
    if circuit.state == CircuitState.OPEN:
        reopen_at = (circuit.opened_at or now) + timedelta(seconds=settings.NOTIFICATIONS_CIRCUIT_RESET_SECONDS)
        if now < reopen_at:
            return CircuitDecision(allowed=False, retry_at=reopen_at)
        circuit.state = CircuitState.HALF_OPEN
    elif circuit.probe_until is not None and circuit.probe_until > now:
        # Check back soon rather than at the probe's lease end: a quick success closes the breaker.
        retry_at = min(circuit.probe_until, now + timedelta(seconds=settings.NOTIFICATIONS_RETRY_DELAY_SECONDS))
        return CircuitDecision(allowed=False, retry_at=retry_at)
    circuit.probe_until = now + lease
    circuit.save(update_fields=["state", "probe_until", "updated_at"])
    logger.info("circuit_half_open_probe", channel=channel)
    return CircuitDecision(allowed=True, probe=True)


@transaction.atomic
def circuit_record_success(*, channel: str) -> None:
    """The channel answered: close the breaker and forget past failures."""
    if (
        not ChannelCircuit.objects.filter(channel=channel)
        .exclude(state=CircuitState.CLOSED, consecutive_failures=0)
        .exists()
    ):
        return  # nothing to forget (the usual case): no lock, no write
    circuit = _locked(channel)
    if circuit.state == CircuitState.CLOSED and circuit.consecutive_failures == 0:
        return
    if circuit.state != CircuitState.CLOSED:
        logger.info("circuit_closed", channel=channel)
    circuit.state = CircuitState.CLOSED
    circuit.consecutive_failures = 0
    circuit.opened_at = None
    circuit.probe_until = None
    circuit.save()


@transaction.atomic
def circuit_record_failure(*, channel: str, error: str) -> None:
    """A transient failure: open after the threshold, or at once if it was the half-open trial."""
    circuit = _locked(channel)
    circuit.consecutive_failures += 1
    circuit.last_error = error[:1000]
    threshold = settings.NOTIFICATIONS_CIRCUIT_FAILURE_THRESHOLD
    # Failures of sends that started before it opened do not push the reopening further away.
    if circuit.state != CircuitState.OPEN and (
        circuit.state == CircuitState.HALF_OPEN or circuit.consecutive_failures >= threshold
    ):
        logger.warning("circuit_opened", channel=channel, failures=circuit.consecutive_failures)
        circuit.state = CircuitState.OPEN
        circuit.opened_at = timezone.now()
        circuit.probe_until = None
    circuit.save()


@transaction.atomic
def circuit_reset(*, channel: str) -> ChannelCircuit:
    """Operator action: close a breaker by hand."""
    circuit_record_success(channel=channel)
    return ChannelCircuit.objects.get(channel=channel)
