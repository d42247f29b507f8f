"""Sign-in forms lock an account out after repeated failures (django-axes), with a clear answer."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import TEST_PASSWORD, member, operator

pytestmark = pytest.mark.django_db

LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


def _form_login(client: Client, url: str, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize("url", ["/escrow/login/", "/admin/login/"])
def test_after_repeated_failures_even_the_right_password_is_refused_with_a_clear_page(url):
    user = operator()  # staff, so the admin form would accept it
    client = Client()
    for _ in range(LIMIT - 1):
        assert _form_login(client, url, user.username, "wrong").status_code == 200  # the form again, with an error
    locked = _form_login(client, url, user.username, "wrong")
    assert locked.status_code == 429
    for _ in range(95):
        _form_login(client, url, user.username, "wrong")
    right = _form_login(client, url, user.username, TEST_PASSWORD)
    assert right.status_code == 429
    assert b"Sign-in paused" in right.content
    assert b"15 minutes" in right.content
    assert int(right["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session
    # The same account from another address is not locked out (nobody can lock a person out remotely).
    elsewhere = Client()
    assert _form_login(elsewhere, url, user.username, TEST_PASSWORD, ip="203.0.113.5").status_code == 302
    assert "_auth_user_id" in elsewhere.session


def test_a_success_before_the_limit_resets_the_count():
    user = member()
    client = Client()
    for _ in range(LIMIT - 1):
        _form_login(client, "/escrow/login/", user.username, "wrong")
    assert _form_login(client, "/escrow/login/", user.username, TEST_PASSWORD).status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        _form_login(client, "/escrow/login/", user.username, "wrong")
    assert _form_login(client, "/escrow/login/", user.username, TEST_PASSWORD).status_code == 302


def test_the_api_token_endpoint_answers_a_locked_account_with_a_429_problem(api_client):
    user = member()
    for _ in range(LIMIT - 1):
        wrong = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"})
        assert wrong.status_code == 401
    last_wrong = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"})
    assert last_wrong.json()["code"] == "sign_in_locked"
    response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "sign_in_locked"
    assert "15 minutes" in response.json()["detail"]
    assert "access" not in response.json()
