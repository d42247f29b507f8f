"""Lifecycles of holds (two-phase transfers) and payout intents.

Hold:    pending -> posted | voided | expired        (exactly one resolution, never undone)
Payout:  requested -> sent -> succeeded | failed | unknown
         requested -> succeeded | failed | unknown   (a rail that answers synchronously)
         unknown   -> sent (re-dispatch with the same rail key) | succeeded | failed
         sent      -> sent (a stale `sent`, left by a dead worker or a `pending` answer, is re-sent
                            by the sweeper with the same rail key)

Transitions only change their own row; the services in `ledger.services` post the entries.
"""

from __future__ import annotations

from django.db import models


class HoldStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    SENT = "sent", "Sent to the rail"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"


PAYOUT_OPEN = (PayoutStatus.REQUESTED, PayoutStatus.SENT, PayoutStatus.UNKNOWN)
PAYOUT_FINAL = (PayoutStatus.SUCCEEDED, PayoutStatus.FAILED)

HOLD_TRANSITIONS: dict[str, frozenset[str]] = {
    HoldStatus.PENDING: frozenset({HoldStatus.POSTED, HoldStatus.VOIDED, HoldStatus.EXPIRED}),
    HoldStatus.POSTED: frozenset(),
    HoldStatus.VOIDED: frozenset(),
    HoldStatus.EXPIRED: frozenset(),
}

PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    PayoutStatus.REQUESTED: frozenset(
        {PayoutStatus.SENT, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.UNKNOWN}
    ),
    PayoutStatus.SENT: frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.UNKNOWN}),
    PayoutStatus.UNKNOWN: frozenset({PayoutStatus.SENT, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED}),
    PayoutStatus.SUCCEEDED: frozenset(),
    PayoutStatus.FAILED: frozenset(),
}


def can_transition(table: dict[str, frozenset[str]], current: str, target: str) -> bool:
    """True when `target` is reachable from `current` in one step."""
    return target in table.get(current, frozenset())
