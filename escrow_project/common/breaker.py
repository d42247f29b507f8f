"""A circuit breaker shared by every process through the cache (Redis in production).

Closed: calls go through. After `threshold` consecutive failures it opens: calls are skipped.
After `reset_seconds` it is half-open: one caller may try (the cache's atomic add picks it);
success closes it, failure re-opens it. A breaker is named; its state lives under
`breaker:<name>:*` keys, so every worker sees the same one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.cache import cache

CLOSED, OPEN, HALF_OPEN = 0, 1, 2


class SharedBreaker:
    def __init__(
        self,
        name: str,
        *,
        threshold: Callable[[], int],
        reset_seconds: Callable[[], float],
        on_state: Callable[[int], None] = lambda state: None,
        keys: tuple[str, str, str] | None = None,
    ) -> None:
        # Settings are read per call (tests and operators change them); `keys` keeps the cache keys
        # of a breaker that predates this class, so a deploy does not forget an open breaker.
        self.threshold, self.reset_seconds, self.on_state = threshold, reset_seconds, on_state
        self._failures, self._opened_at, self._trial = keys or tuple(
            f"breaker:{name}:{part}" for part in ("failures", "opened-at", "trial")
        )

    def state(self) -> int:
        opened_at = cache.get(self._opened_at)
        if opened_at is None:
            current = CLOSED
        elif time.time() - float(opened_at) >= self.reset_seconds():
            current = HALF_OPEN
        else:
            current = OPEN
        self.on_state(current)
        return current

    def allow(self) -> bool:
        """Whether a call may go out now (in half-open state: only one caller)."""
        current = self.state()
        if current == CLOSED:
            return True
        if current == HALF_OPEN:
            return bool(cache.add(self._trial, 1, timeout=self.reset_seconds()))
        return False

    def record_success(self) -> None:
        cache.delete_many([self._failures, self._opened_at, self._trial])
        self.on_state(CLOSED)

    def record_failure(self) -> None:
        cache.add(self._failures, 0, timeout=None)
        try:
            failures = cache.incr(self._failures)
        except ValueError:
            cache.set(self._failures, 1, timeout=None)
            failures = 1
        if failures >= self.threshold() or cache.get(self._trial) is not None:
            cache.set(self._opened_at, time.time(), timeout=None)
            cache.delete(self._trial)
        self.state()
