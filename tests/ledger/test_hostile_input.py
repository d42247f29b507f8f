"""Hostile input on the ledger API: a 4xx problem, never a 500."""

from __future__ import annotations

import pytest

from tests.factories import operator


@pytest.mark.django_db
@pytest.mark.parametrize("secret", ["\u00e9", "sim_\u00cb\u007frGo", "a b"])
def test_a_non_ascii_sandbox_client_secret_is_a_400_problem(client_for, secret):
    response = client_for(operator()).post("/api/v1/sandbox/payments/pay", {"client_secret": secret}, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "client_secret"
