"""Liveness (the process answers) and readiness (its dependencies answer), with latencies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
import structlog
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = structlog.get_logger(__name__)


def _check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    import redis

    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout).ping()


def _check_chain() -> None:
    response = requests.post(
        settings.CHAIN_RPC_URL,
        json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    if "result" not in response.json():
        raise RuntimeError("chain node answered without a result")


def _timed(check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "not ready"
        latency = round((time.perf_counter() - started) * 1000, 2)
        return {"status": "down", "latency_ms": latency, "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "up"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict[str, Any]] = {"database": _timed(_check_database)}
    if settings.REDIS_URL:
        checks["redis"] = _timed(_check_redis)
    if settings.CHAIN_RPC_URL:
        checks["chain"] = _timed(_check_chain)
    healthy = all(check["status"] == "up" for check in checks.values())
    if not healthy:
        logger.warning("readiness_failed", checks=checks)
    return JsonResponse({"status": "up" if healthy else "down", "checks": checks}, status=200 if healthy else 503)
