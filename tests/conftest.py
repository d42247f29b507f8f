from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from audit.kinds import AuditKind, audit_kinds_register
from identity.models import User

pytest_plugins = ["tests.stripe_peer"]

# Kinds only tests append, on their own `test_case` chains (the suite runs AUDIT_KINDS_STRICT).
audit_kinds_register(
    "tests",
    [
        AuditKind("test.payout_succeeded", "tests/ledger: a marker event in a payout's transaction"),
        AuditKind("test.verification_verified", "tests/ledger: a marker event in a competing transaction"),
        AuditKind("escrow.verification_note", "tests/transactions: another step holding the case's audit head"),
    ],
)


def bearer_for(user: User) -> str:
    return f"Bearer {RefreshToken.for_user(user).access_token}"


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client authenticated with a real JWT for the given user."""

    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
        return client

    return make


requires_postgres = pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="needs the real PostgreSQL server: set DATABASE_URL (CI does)"
)


@pytest.fixture
def eager_worker() -> Any:
    """Tasks handed to Celery run at once in this process, as a worker would run them."""
    from escrow_project.celery import app as celery_app

    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager
