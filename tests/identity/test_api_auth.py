"""JWT authentication refuses every forged or stale token, in the one error shape."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import TEST_PASSWORD, member

pytestmark = pytest.mark.django_db


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _valid_claims(user_id: int) -> dict[str, object]:
    token = AccessToken()
    token["user_id"] = str(user_id)
    return dict(token.payload)


def _assert_401_problem(response: Any) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401
    assert body["type"].endswith(body["code"])
    assert body["code"] in {"authentication_failed", "not_authenticated"}
    assert body["request_id"] == response["X-Request-ID"]


def test_password_login_issues_tokens_that_open_the_api(api_client):
    user = member(username="alice")
    tokens = api_client.post("/api/v1/auth/token/", {"username": "alice", "password": TEST_PASSWORD}).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == user.username


def test_no_token_is_401(api_client):
    _assert_401_problem(api_client.get("/api/v1/me/"))


def test_expired_token_is_401(api_client):
    user = member()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _assert_401_problem(api_client.get("/api/v1/me/"))


def test_tampered_token_is_401(api_client):
    user, other = member(), member()
    header, _payload, signature = str(AccessToken.for_user(user)).split(".")
    forged_payload = _b64({**_valid_claims(other.pk)})
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{forged_payload}.{signature}")
    _assert_401_problem(api_client.get("/api/v1/me/"))


def test_wrong_audience_is_401(api_client):
    user = member()
    claims = {**_valid_claims(user.pk), "aud": "some-other-service"}
    token = jwt.encode(claims, str(settings.SIMPLE_JWT["SIGNING_KEY"]), algorithm="HS256")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _assert_401_problem(api_client.get("/api/v1/me/"))


def test_wrong_issuer_is_401(api_client):
    user = member()
    claims = {**_valid_claims(user.pk), "iss": "someone-else"}
    token = jwt.encode(claims, str(settings.SIMPLE_JWT["SIGNING_KEY"]), algorithm="HS256")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _assert_401_problem(api_client.get("/api/v1/me/"))


def test_alg_none_token_is_401(api_client):
    user = member()
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_valid_claims(user.pk))}."
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {unsigned}")
    _assert_401_problem(api_client.get("/api/v1/me/"))


def test_refresh_rotates_and_the_old_refresh_token_is_dead(api_client):
    member(username="bob")
    first = api_client.post("/api/v1/auth/token/", {"username": "bob", "password": TEST_PASSWORD}).json()
    rotated = api_client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    replay = api_client.post("/api/v1/auth/token/refresh/", {"refresh": first["refresh"]})
    _assert_401_problem(replay)
