"""Idempotency-Key: one effect per key, the first response replayed, misuse refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests

from escrow_project.common.models import IdempotencyRecord
from identity.models import Organization
from tests.conftest import bearer_for, requires_postgres
from tests.factories import operator


@pytest.mark.django_db
def test_repeat_with_same_key_replays_first_response_without_a_second_effect(client_for):
    client = client_for(operator())
    payload = {"name": "Lakeside Bank", "kind": "lender"}
    first = client.post("/api/v1/organizations/", payload, HTTP_IDEMPOTENCY_KEY="k-1")
    second = client.post("/api/v1/organizations/", payload, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Organization.objects.filter(name="Lakeside Bank").count() == 1


@pytest.mark.django_db
def test_same_key_with_different_body_is_422_and_changes_nothing(client_for):
    client = client_for(operator())
    client.post("/api/v1/organizations/", {"name": "A", "kind": "lender"}, HTTP_IDEMPOTENCY_KEY="k-2")
    response = client.post("/api/v1/organizations/", {"name": "B", "kind": "lender"}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Organization.objects.filter(name="B").exists()


@pytest.mark.django_db
def test_a_failed_request_is_not_stored_so_the_key_can_be_retried(client_for):
    client = client_for(operator())
    failed = client.post("/api/v1/organizations/", {"kind": "lender"}, HTTP_IDEMPOTENCY_KEY="k-3")
    assert failed.status_code == 400
    assert not IdempotencyRecord.objects.filter(key="k-3").exists()
    fixed = client.post("/api/v1/organizations/", {"kind": "lender"} | {"name": "Fixed"}, HTTP_IDEMPOTENCY_KEY="k-4")
    assert fixed.status_code == 201


@pytest.mark.django_db
def test_keys_are_per_caller(client_for):
    payload = {"name": "Same", "kind": "lender", "slug": "same-1"}
    first = client_for(operator()).post("/api/v1/organizations/", payload, HTTP_IDEMPOTENCY_KEY="shared")
    other = client_for(operator()).post("/api/v1/organizations/", payload, HTTP_IDEMPOTENCY_KEY="shared")
    assert first.status_code == 201
    assert other.status_code == 409  # a real second attempt, not a replay of someone else's response


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_posts_make_one_organization(live_server):
    headers = {"Authorization": bearer_for(operator()), "Idempotency-Key": "concurrent-1"}
    payload = {"name": "Concurrent Title Co", "kind": "title_company"}
    barrier = Barrier(20)

    def post(_: int) -> tuple[int, bytes]:
        barrier.wait()
        response = requests.post(f"{live_server.url}/api/v1/organizations/", json=payload, headers=headers, timeout=30)
        return response.status_code, response.content

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(post, range(20)))

    assert {status for status, _ in results} == {201}
    assert len({body for _, body in results}) == 1  # byte-identical
    assert Organization.objects.filter(name="Concurrent Title Co").count() == 1


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


@pytest.mark.django_db(transaction=True)
def test_a_request_rolled_back_by_a_deadlock_runs_again_instead_of_a_500(client_for, monkeypatch):
    from django.db import OperationalError

    from identity import services as identity_services

    real_create = identity_services.organization_create
    calls = []

    def deadlocks_once(**fields):
        calls.append(fields["name"])
        created = real_create(**fields)
        if len(calls) == 1:  # after writing: the server rolls the whole transaction back
            raise OperationalError("deadlock detected") from _Deadlock()
        return created

    monkeypatch.setattr(identity_services, "organization_create", deadlocks_once)
    response = client_for(operator()).post(
        "/api/v1/organizations/", {"name": "Once", "kind": "lender"}, HTTP_IDEMPOTENCY_KEY="k-dl"
    )

    assert response.status_code == 201
    assert len(calls) == 2
    assert Organization.objects.filter(name="Once").count() == 1
    assert IdempotencyRecord.objects.filter(key="k-dl").count() == 1
