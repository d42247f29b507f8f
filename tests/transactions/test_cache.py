"""The read-through cache: writes are visible at once after commit, rollbacks leave nothing, and the API
works without a cache. Transactional tests: the cache is bypassed inside atomic blocks by design."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.views import APIView

from identity.models import User
from tests.transactions.factories import World, deliver, fund, make_escrow, make_world, task_of
from transactions import selectors, services
from transactions.models import EscrowTransaction
from verifications import selectors as verification_selectors
from verifications.models import AgentProfile

pytestmark = pytest.mark.django_db(transaction=True)

DEAD_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


@pytest.fixture
def w(transactional_db: None) -> World:
    return make_world()


def _get(client: APIClient, txn: EscrowTransaction) -> dict[str, Any]:
    resp = client.get(f"/api/v1/escrow/transactions/{txn.public_id}/")
    assert resp.status_code == 200, resp.content
    return dict(resp.json())


def test_warm_cache_is_served_and_a_committed_write_is_visible_at_once(
    w: World, client_for: Callable[[User], APIClient]
) -> None:
    txn = make_escrow(w)
    buyer = client_for(w.buyer_user)
    assert _get(buyer, txn)["property_address"].startswith("12 Harbor")
    # A change that bypasses the models' signals is not seen: proof the second read came from the cache.
    EscrowTransaction.objects.filter(pk=txn.pk).update(property_address="written behind the cache's back")
    assert _get(buyer, txn)["property_address"].startswith("12 Harbor")

    services.escrow_update(transaction_id=txn.pk, actor=w.officer, changes={"purchase_price": "410000.00"})
    body = _get(buyer, txn)
    assert Decimal(body["purchase_price"]) == Decimal("410000.00")
    assert body["property_address"] == "written behind the cache's back"

    # State changes too (the poll the parties and the benchmark rely on).
    services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    assert _get(buyer, txn)["status"] == "awaiting_earnest_money"


def test_a_rolled_back_write_leaves_no_phantom_entry(w: World, client_for: Callable[[User], APIClient]) -> None:
    txn = make_escrow(w)
    buyer = client_for(w.buyer_user)
    _get(buyer, txn)  # warm

    class Abort(Exception):
        pass

    def write_then_fail() -> None:
        with transaction.atomic():
            services.escrow_update(transaction_id=txn.pk, actor=w.officer, changes={"purchase_price": "999000.00"})
            # A read inside the writing transaction sees its own write but must not cache it.
            seen = selectors.escrow_state_cached(
                transaction_id=txn.pk,
                render=lambda: {"purchase_price": str(EscrowTransaction.objects.get(pk=txn.pk).purchase_price)},
            )
            assert Decimal(seen["purchase_price"]) == Decimal("999000.00")
            raise Abort

    with pytest.raises(Abort):
        write_then_fail()

    assert Decimal(_get(buyer, txn)["purchase_price"]) == Decimal("400000.00")
    # And the entry is still the warm one (the rollback retired nothing): a hidden change stays hidden.
    EscrowTransaction.objects.filter(pk=txn.pk).update(property_address="hidden")
    assert _get(buyer, txn)["property_address"].startswith("12 Harbor")


def test_new_report_and_agent_profile_changes_are_visible_after_commit(w: World) -> None:
    txn = fund(w, make_escrow(w))
    task = task_of(txn, "title")
    assert verification_selectors.task_latest_report(task=task) is None  # warm with "no report"
    deliver(txn, "title")
    report = verification_selectors.task_latest_report(task=task)
    assert report is not None
    assert report.passed

    org_id = w.title_company.pk
    assert verification_selectors.agent_profile_for(organization_id=org_id, verification_type="title") is not None
    profile = AgentProfile.objects.get(organization_id=org_id, verification_type="title")
    profile.is_active = False
    profile.save()
    assert verification_selectors.agent_profile_for(organization_id=org_id, verification_type="title") is None
    default = verification_selectors.agent_default_for(verification_type="title")
    assert default is None or default.organization_id != org_id


@override_settings(CACHES=DEAD_REDIS)
def test_the_api_works_with_the_cache_unavailable(
    w: World, client_for: Callable[[User], APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rate limits also count in the default cache (foundation) and fail closed without it; they are
    # not what this test is about.
    monkeypatch.setattr(APIView, "throttle_classes", [])
    txn = make_escrow(w)
    officer = client_for(w.officer)
    assert _get(officer, txn)["status"] == "draft"
    resp = officer.post(f"/api/v1/escrow/transactions/{txn.public_id}/open/", HTTP_IDEMPOTENCY_KEY="cache-down-1")
    assert resp.status_code == 200, resp.content
    assert _get(officer, txn)["status"] == "awaiting_earnest_money"
    assert verification_selectors.agent_profile_for(organization_id=w.title_company.pk, verification_type="title")
