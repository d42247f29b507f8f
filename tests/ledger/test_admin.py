from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from identity.models import User
from ledger import services
from ledger.models import Account, InvariantRun
from tests.console import action_url, confirm

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    client.force_login(User.objects.create_superuser("ledger-root", "root@example.test", "pw-not-used-elsewhere"))
    return client


def test_entry_detail_shows_lines_and_pages_are_read_only(admin_client_, open_wallet):
    payer, payee = open_wallet("10"), open_wallet()
    entry = services.transfer_create(
        idempotency_key="adm",
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal("3"),
        currency="USD",
    )
    page = admin_client_.get(reverse("admin:ledger_journalentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert b"3.0000" in page.content
    assert admin_client_.get(reverse("admin:ledger_account_add")).status_code == 403
    response = admin_client_.post(reverse("admin:ledger_account_delete", args=[payer.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Account.objects.filter(pk=payer.pk).exists()


def test_invariant_action_records_a_run_and_changelist_shows_it(admin_client_, open_wallet):
    wallet = open_wallet("10")
    url = reverse("admin:ledger_account_changelist")
    assert b"has not run yet" in admin_client_.get(url).content
    assert admin_client_.post(action_url(wallet, "check_invariants"), {"reason": ""}).status_code == 400
    assert not InvariantRun.objects.exists()
    done = confirm(admin_client_, wallet, "check_invariants", reason="Month-end close")
    assert "Invariants hold" in done.content.decode()
    assert InvariantRun.objects.get().ok is True
    assert b"Ledger invariants held" in admin_client_.get(url).content


def test_operators_see_the_rail_and_its_breaker_on_the_payments_page(admin_client_, settings):
    from ledger.rails import rail_get

    url = reverse("admin:ledger_railpayment_changelist")
    assert "Payment rail: simulated" in admin_client_.get(url).content.decode()

    settings.PAYMENT_RAIL = "stripe"
    breaker = rail_get("stripe").breaker  # type: ignore[attr-defined]
    assert "Circuit breaker closed (0 of 5 failures" in admin_client_.get(url).content.decode()
    try:
        for _ in range(5):
            breaker.record(ok=False)
        assert "Circuit breaker OPEN" in admin_client_.get(url).content.decode()
    finally:
        breaker.record(ok=True)
        breaker._open_until = 0.0
