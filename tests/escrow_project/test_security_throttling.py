"""Rate limits hold under concurrent clients on a real server, per client and per IP, and a caller
cannot escape them by changing X-Forwarded-For."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIRequestFactory

from escrow_project.common.throttling import IPRateThrottle
from tests import redis_keys
from tests.conftest import bearer_for
from tests.factories import member

requires_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="needs the real Redis server as the shared cache: set REDIS_URL"
)


def _rates(settings: Any, *, client: str, ip: str, sign_in: str = "100000/hour") -> None:
    rates = {"client": client, "ip": ip, "sign_in": sign_in}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    if settings.REDIS_KEY_PREFIX and settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        redis_keys.forget_mine()  # cache.clear() is FLUSHDB: it would wipe the other xdist workers' counts
    else:
        cache.clear()


def _hammer(threads: int, per_thread: int, send: Any) -> list[requests.Response]:
    def worker(n: int) -> list[requests.Response]:
        with requests.Session() as session:
            return [send(session, n * per_thread + i) for i in range(per_thread)]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [response for batch in pool.map(worker, range(threads)) for response in batch]


def _assert_429_shape(response: requests.Response) -> None:
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "rate_limited"
    assert response.json()["status"] == 429
    assert int(response.headers["Retry-After"]) > 0


@requires_redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_per_client_limit_holds_under_concurrent_requests_from_spoofed_addresses(live_server, settings):
    _rates(settings, client="20/hour", ip="100000/hour")
    greedy, patient = bearer_for(member()), bearer_for(member())
    url = f"{live_server.url}/api/v1/me/"

    def send(session: requests.Session, n: int) -> requests.Response:
        # A new X-Forwarded-For on every request: the limit is on the client, not on any address.
        headers = {"Authorization": greedy, "X-Forwarded-For": f"198.51.100.{n % 250}"}
        return session.get(url, headers=headers, timeout=30)

    responses = _hammer(4, 15, send)
    assert Counter(r.status_code for r in responses) == {200: 20, 429: 40}
    for response in responses:
        if response.status_code == 429:
            _assert_429_shape(response)

    # Another client from the same address is not affected.
    assert requests.get(url, headers={"Authorization": patient}, timeout=30).status_code == 200


@requires_redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_per_ip_limit_cannot_be_bypassed_by_changing_x_forwarded_for(live_server, settings):
    _rates(settings, client="100000/hour", ip="15/hour")
    url = f"{live_server.url}/api/v1/auth/token/"

    def send(session: requests.Session, n: int) -> requests.Response:
        headers = {"X-Forwarded-For": f"203.0.113.{n % 250}, 192.0.2.{n % 250}", "X-Real-IP": f"192.0.2.{n}"}
        return session.post(url, json={"username": f"guess{n}", "password": "wrong"}, headers=headers, timeout=30)

    responses = _hammer(4, 10, send)
    assert Counter(r.status_code for r in responses) == {401: 15, 429: 25}
    for response in responses:
        if response.status_code == 429:
            _assert_429_shape(response)


@requires_redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sign_in_has_its_own_lower_ceiling(live_server, settings):
    _rates(settings, client="100000/hour", ip="100000/hour", sign_in="5/hour")
    url = f"{live_server.url}/api/v1/auth/token/"
    # A new username each time: one account's failures would also trip its lockout (test_login_lockout).
    statuses = [
        requests.post(url, json={"username": f"admin{n}", "password": f"guess{n}"}, timeout=30).status_code
        for n in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3
    # The rest of the API is not affected by the sign-in ceiling.
    me = requests.get(f"{live_server.url}/api/v1/me/", headers={"Authorization": bearer_for(member())}, timeout=30)
    assert me.status_code == 200


@pytest.mark.parametrize(
    ("num_proxies", "expected"),
    [(0, "10.0.0.7"), (1, "203.0.113.9")],
    ids=["no-proxy-trusted", "one-trusted-proxy"],
)
def test_client_ip_comes_from_the_trusted_proxy_count(settings, num_proxies, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    # The caller forged the first entry; the trusted proxy (10.0.0.7) appended the address it saw.
    request = APIRequestFactory().get("/", REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert IPRateThrottle().get_ident(request) == expected


@pytest.mark.django_db
def test_a_cache_outage_lets_requests_through_instead_of_failing_them(settings, client_for):
    _rates(settings, client="2/hour", ip="2/hour")
    # Redis on a port where nothing listens: counting fails, and the API must still answer.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    client = client_for(member())
    statuses = [client.get("/api/v1/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 200]


@pytest.mark.django_db(transaction=True)
def test_without_redis_the_database_counters_reset_every_window(settings, monkeypatch):
    # The database cache (the default without REDIS_URL): a steady 22/min under a 30/min limit
    # must never be refused, however long it goes on.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "common_cache"}
    }
    call_command("createcachetable", verbosity=0)  # its migration made none: the suite's cache is Redis
    _rates(settings, client="100000/hour", ip="30/min")
    clock = [1_800_000_000.0]
    monkeypatch.setattr("escrow_project.common.throttling.time.time", lambda: clock[0])
    request = APIRequestFactory().get("/", REMOTE_ADDR="192.0.2.44")
    refused = 0
    for _ in range(22 * 5):  # five minutes
        refused += not IPRateThrottle().allow_request(request, None)
        clock[0] += 60 / 22
    assert refused == 0
    # And the limit still holds inside one window.
    results = [IPRateThrottle().allow_request(request, None) for _ in range(40)]
    assert results.count(False) >= 10


@requires_redis
@pytest.mark.django_db
def test_with_redis_the_counters_reset_every_window_in_one_round_trip(settings, monkeypatch):
    _rates(settings, client="100000/hour", ip="30/min")
    clock = [1_800_000_000.0]
    monkeypatch.setattr("escrow_project.common.throttling.time.time", lambda: clock[0])
    request = APIRequestFactory().get("/", REMOTE_ADDR="192.0.2.45")
    refused = 0
    for _ in range(22 * 5):  # a steady 22/min under a 30/min limit, for five minutes
        refused += not IPRateThrottle().allow_request(request, None)
        clock[0] += 60 / 22
    assert refused == 0
    results = [IPRateThrottle().allow_request(request, None) for _ in range(40)]
    assert results.count(False) >= 10
    throttle = IPRateThrottle()
    assert not throttle.allow_request(request, None)
    wait = throttle.wait()
    assert wait is not None
    assert 0 < wait <= 60  # Retry-After: until the window that started it ends
