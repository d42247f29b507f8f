"""The embedded default signs JWTs with a key made for this install, never a constant in the source."""

from __future__ import annotations

import stat

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from escrow_project.settings.env import install_secret
from tests.factories import operator

# What the local default used to sign with: SECRET_KEY's public development value.
PUBLIC_DEVELOPMENT_KEY = "insecure-local-development-key-change-me-0123456789abcdef"


def test_each_install_makes_its_own_key_once_and_keeps_it_private(tmp_path):
    first = install_secret(tmp_path / "a", "jwt_signing_key")
    assert install_secret(tmp_path / "a", "jwt_signing_key") == first  # every process of one install agrees
    assert install_secret(tmp_path / "b", "jwt_signing_key") != first
    assert len(first) >= 64
    mode = (tmp_path / "a" / "secrets" / "jwt_signing_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert [p.name for p in (tmp_path / "a" / "secrets").iterdir()] == ["jwt_signing_key"]  # no drafts left


def test_the_running_key_is_not_the_public_development_key():
    if settings.JWT_SIGNING_KEY_FROM_ENV:
        pytest.skip("JWT_SIGNING_KEY comes from the environment here")
    assert settings.SIMPLE_JWT["SIGNING_KEY"] not in (PUBLIC_DEVELOPMENT_KEY, settings.SECRET_KEY)


@pytest.mark.django_db
def test_a_token_forged_with_the_public_development_key_is_refused(api_client):
    user = operator()
    claims = dict(AccessToken.for_user(user).payload)
    forged = jwt.encode(claims, PUBLIC_DEVELOPMENT_KEY, algorithm="HS256")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] in ("authentication_failed", "token_not_valid")
