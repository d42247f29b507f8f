"""Rate limits per authenticated client and per IP, counted atomically in the shared cache.

DRF's stock throttles read a history list, append and write it back: concurrent requests all read
the same history and all pass. These count with `cache.add` + `cache.incr` (one atomic INCR in
Redis), in a window that starts with the first request and lasts the rate's period. The IP comes
from DRF's `get_ident`, which honours REST_FRAMEWORK["NUM_PROXIES"]: with 0 (the default) it is the
socket address and X-Forwarded-For is ignored, so a caller cannot mint new identities by sending it.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import structlog
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from prometheus_client import Counter
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = structlog.get_logger(__name__)
THROTTLE_FAILED_OPEN = Counter(
    "api_throttle_failed_open_total", "Requests let through because the rate-limit store was unavailable.", ["scope"]
)
THROTTLED = Counter("api_requests_throttled_total", "API requests refused with 429, by throttle scope.", ["scope"])


class _AtomicWindowThrottle(SimpleRateThrottle):
    scope = ""

    def get_rate(self) -> str | None:
        # Read at call time (DRF reads it at import), so override_settings and env changes apply.
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        rate = rates.get(self.scope)
        return str(rate) if rate else None

    def allow_request(self, request: Any, view: Any) -> bool:
        rate = self.get_rate()
        if rate is None:
            return True
        limit, duration = self.parse_rate(rate)
        if limit is None or duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        try:
            count, start = self._count(key, now, duration)
        except Exception:  # any cache outage: fail open, never a 500
            # Rate limiting protects capacity; refusing every request because its counter store is
            # down would turn a cache outage into a platform outage.
            logger.warning("throttle_cache_unavailable", scope=self.scope, exc_info=True)
            THROTTLE_FAILED_OPEN.labels(scope=self.scope).inc()
            return True
        self._wait = max(0.0, float(start) + duration - now)
        if count > limit:
            THROTTLED.labels(scope=self.scope).inc()
            return False
        return True

    def _count(self, key: str, now: float, duration: int) -> tuple[int, float]:
        if isinstance(caches["default"], RedisCache):
            return _count_in_redis(key, now, duration)
        with _serialised():
            cache.add(f"{key}:start", now, duration)
            cache.add(key, 0, duration)
            start = float(cache.get(f"{key}:start", now))
            if now - start >= duration:
                # The window is over even if the counter is still there: the database cache's incr()
                # re-sets the key with the default timeout, so at a steady rate it never expired and
                # the count grew across windows (429 for ever). The window's start decides, not TTLs.
                cache.set(f"{key}:start", now, duration)
                cache.set(key, 1, duration)
                return 1, now
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr: this request opens a new window
                cache.set(f"{key}:start", now, duration)
                cache.set(key, 1, duration)
                count = 1
            return count, float(cache.get(f"{key}:start", now))

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


# The same window as the generic path below, in one round trip instead of five per throttle (two
# throttles on every API request): the window's start decides, and an INCR that recreated an
# expired counter gives it its TTL again.
_WINDOW_SCRIPT = """
local start = redis.call('GET', KEYS[2])
if (not start) or (tonumber(ARGV[1]) - tonumber(start) >= tonumber(ARGV[2])) then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  redis.call('SET', KEYS[1], 1, 'EX', ARGV[2])
  return {1, ARGV[1]}
end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {count, start}
"""
_window_scripts: dict[int, Any] = {}


def _count_in_redis(key: str, now: float, duration: int) -> tuple[int, float]:
    backend = caches["default"]
    client = backend._cache.get_client(write=True)  # type: ignore[attr-defined]
    script = _window_scripts.get(id(client.connection_pool))
    if script is None:
        script = _window_scripts[id(client.connection_pool)] = client.register_script(_WINDOW_SCRIPT)
    count, start = script(
        keys=[backend.make_and_validate_key(key), backend.make_and_validate_key(f"{key}:start:raw")],
        args=[repr(now), max(1, int(duration))],
    )
    return int(count), float(start)


def _serialised() -> contextlib.AbstractContextManager[Any]:
    # The database cache increments with a read and a write; on the embedded SQLite default a
    # transaction (BEGIN IMMEDIATE) makes that pair atomic across processes. Redis needs nothing.
    if isinstance(caches["default"], DatabaseCache):
        return transaction.atomic()
    return contextlib.nullcontext()


class ClientRateThrottle(_AtomicWindowThrottle):
    """Per authenticated client (the user behind the token), whatever address it calls from."""

    scope = "client"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return f"throttle:{self.scope}:{user.pk}"


class IPRateThrottle(_AtomicWindowThrottle):
    """Per client IP, for every request (sign-in attempts included)."""

    scope = "ip"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return f"throttle:{self.scope}:{self.get_ident(request)}"


class SignInRateThrottle(_AtomicWindowThrottle):
    """Per IP on the sign-in and token-refresh endpoints: password guessing gets a much lower ceiling."""

    scope = "sign_in"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return f"throttle:{self.scope}:{self.get_ident(request)}"


SIGN_IN_THROTTLES = [IPRateThrottle, SignInRateThrottle]
