"""Conditional GETs and the long-poll of a transaction's state: a client waiting for a state makes
one request per change, gets 304 while nothing changed, and never misses a committed write.
Transactional tests: the state cache (whose version is the ETag) is bypassed inside atomic blocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from identity.models import User
from tests.factories import member
from tests.transactions.factories import World, make_escrow, make_world
from transactions import services
from transactions.models import EscrowTransaction

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def w(transactional_db: None) -> World:
    return make_world()


def _url(txn: EscrowTransaction, query: str = "") -> str:
    return f"/api/v1/escrow/transactions/{txn.public_id}/{query}"


def _watching(w: World, client_for: Callable[[User], APIClient]) -> tuple[EscrowTransaction, APIClient, str]:
    """A new transaction, the buyer's client and the ETag of the buyer's first read."""
    txn = make_escrow(w)
    buyer = client_for(w.buyer_user)
    return txn, buyer, buyer.get(_url(txn)).headers["ETag"]


def test_an_unchanged_transaction_answers_304_and_a_committed_write_a_new_etag(
    w: World, client_for: Callable[[User], APIClient]
) -> None:
    txn = make_escrow(w)
    buyer = client_for(w.buyer_user)
    first = buyer.get(_url(txn))
    etag = first.headers["ETag"]
    assert first.json()["status"] == "draft"

    again = buyer.get(_url(txn), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag

    services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    changed = buyer.get(_url(txn), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.json()["status"] == "awaiting_earnest_money"
    assert changed.headers["ETag"] != etag


def test_a_long_poll_answers_when_another_process_commits_a_change(
    w: World, client_for: Callable[[User], APIClient]
) -> None:
    txn, buyer, etag = _watching(w, client_for)

    def open_soon() -> None:
        try:
            time.sleep(0.5)
            services.escrow_open(transaction_id=txn.pk, actor=w.officer)
        finally:
            connection.close()

    writer = threading.Thread(target=open_soon)
    started = time.monotonic()
    writer.start()
    response = buyer.get(_url(txn, "?wait_for_change=10"), HTTP_IF_NONE_MATCH=etag)
    elapsed = time.monotonic() - started
    writer.join()
    assert response.status_code == 200
    assert response.json()["status"] == "awaiting_earnest_money"
    assert 0.4 < elapsed < 5  # it waited for the write, and answered soon after it, not at the timeout


def test_a_long_poll_on_an_unchanged_transaction_answers_304_after_the_wait(
    w: World, client_for: Callable[[User], APIClient]
) -> None:
    txn, buyer, etag = _watching(w, client_for)
    started = time.monotonic()
    response = buyer.get(_url(txn, "?wait_for_change=0.4"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert time.monotonic() - started >= 0.4
    # An ETag the transaction no longer has answers at once, with the state.
    started = time.monotonic()
    stale = buyer.get(_url(txn, "?wait_for_change=10"), HTTP_IF_NONE_MATCH='"1"')
    assert stale.status_code == 200
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("wait", ["-1", "26", "soon", "nan", "inf"])
def test_a_wait_outside_the_documented_range_is_refused(
    w: World, client_for: Callable[[User], APIClient], wait: str
) -> None:
    txn = make_escrow(w)
    response = client_for(w.buyer_user).get(_url(txn, f"?wait_for_change={wait}"), HTTP_IF_NONE_MATCH='"1"')
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_wait"


def test_someone_outside_the_deal_cannot_wait_on_it(w: World, client_for: Callable[[User], APIClient]) -> None:
    txn = make_escrow(w)
    etag = client_for(w.buyer_user).get(_url(txn)).headers["ETag"]
    stranger = client_for(member("buyer", make_world().buyer))
    started = time.monotonic()
    response = stranger.get(_url(txn, "?wait_for_change=10"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 404
    assert time.monotonic() - started < 5  # refused before any wait


@override_settings(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
)
def test_without_a_cache_the_state_is_answered_at_once_without_an_etag(
    w: World, client_for: Callable[[User], APIClient]
) -> None:
    txn = make_escrow(w)
    started = time.monotonic()
    response = client_for(w.buyer_user).get(_url(txn, "?wait_for_change=10"), HTTP_IF_NONE_MATCH='"1"')
    assert response.status_code == 200
    assert "ETag" not in response.headers
    assert time.monotonic() - started < 5


def test_waiting_costs_no_database_query(
    w: World, client_for: Callable[[User], APIClient], django_assert_max_num_queries: Any
) -> None:
    txn, buyer, etag = _watching(w, client_for)
    # The user, whether an operator, the user's organizations, the transaction's key: then Redis only.
    with django_assert_max_num_queries(4):
        assert buyer.get(_url(txn), HTTP_IF_NONE_MATCH=etag).status_code == 304
    with django_assert_max_num_queries(4):
        assert buyer.get(_url(txn, "?wait_for_change=1"), HTTP_IF_NONE_MATCH=etag).status_code == 304
