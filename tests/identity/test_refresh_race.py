"""Refresh-token rotation under concurrency: exactly one of N simultaneous refreshes of one token wins."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import requires_postgres
from tests.factories import TEST_PASSWORD, member

CONCURRENT = 20


@requires_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(live_server):
    member(username="racer")
    token_url = f"{live_server.url}/api/v1/auth/token/"
    refresh_url = f"{live_server.url}/api/v1/auth/token/refresh/"
    pair = requests.post(token_url, json={"username": "racer", "password": TEST_PASSWORD}, timeout=30).json()
    start = threading.Barrier(CONCURRENT)

    def refresh(_: int) -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=60)  # all threads send at once
            return session.post(refresh_url, json={"refresh": pair["refresh"]}, timeout=60)

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        responses = list(pool.map(refresh, range(CONCURRENT)))

    assert Counter(r.status_code for r in responses) == {200: 1, 401: CONCURRENT - 1}
    for response in responses:
        if response.status_code == 401:
            assert response.headers["Content-Type"] == "application/problem+json"
    [winner] = [r.json() for r in responses if r.status_code == 200]
    # The one new refresh token works (once), and its access token authenticates.
    me = requests.get(f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {winner['access']}"})
    assert me.status_code == 200
    assert requests.post(refresh_url, json={"refresh": winner["refresh"]}, timeout=30).status_code == 200
    assert requests.post(refresh_url, json={"refresh": winner["refresh"]}, timeout=30).status_code == 401
