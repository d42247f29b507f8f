"""The operator console in a real browser: sign in, search, and clear a work-queue item from the
dashboard through its confirmation page with a reason. Screenshots at 1400 px and 390 px wide are
kept as test artefacts in var/test-artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.models import AuditEvent
from identity.models import User
from tests.factories import OrganizationFactory
from tests.transactions.factories import fund, make_escrow, make_world
from transactions import services
from transactions.models import Dispute

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"
WIDE, NARROW = {"width": 1400, "height": 900}, {"width": 390, "height": 844}


def _sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def _shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("1400", WIDE), ("390", NARROW)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(WIDE)


@pytest.mark.django_db(transaction=True)
def test_operator_signs_in_and_searches_organizations(live_server, page, tmp_path):
    User.objects.create_superuser("console-op", "op@example.test", "a-long-operator-password")
    OrganizationFactory.create(name="Lakeside Community Bank", slug="lakeside")
    OrganizationFactory.create(name="Summit Appraisal Group", slug="summit")

    _sign_in(page, live_server.url, "console-op", "a-long-operator-password")
    page.wait_for_selector("#console-dashboard")

    page.goto(f"{live_server.url}/admin/identity/organization/")
    page.fill("#searchbar", "Lakeside")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=Lakeside**")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "Lakeside Community Bank" in rows.first.inner_text()
    page.screenshot(path=str(tmp_path / "organizations.png"))


@pytest.mark.django_db(transaction=True)
def test_wrong_password_is_refused_in_the_browser(live_server, page):
    User.objects.create_superuser("console-op2", "op2@example.test", "a-long-operator-password")
    _sign_in(page, live_server.url, "console-op2", "not-the-password")
    page.wait_for_load_state()
    assert "Please enter the correct username and password" in page.content()
    assert "/admin/login/" in page.url


@pytest.mark.django_db(transaction=True)
def test_operator_clears_a_dispute_from_the_dashboard_with_confirmation_and_reason(live_server, page):
    world = make_world()
    txn = fund(world, make_escrow(world))
    dispute = services.dispute_raise(transaction_id=txn.pk, raised_by=world.buyer_user, reason="Water damage")
    operator = world.operator
    operator.is_staff = operator.is_superuser = True
    operator.set_password("a-long-operator-password")
    operator.save()

    page.set_viewport_size(WIDE)
    _sign_in(page, live_server.url, operator.username, "a-long-operator-password")
    card = page.locator('[data-queue="disputes"]')
    assert card.locator("[data-count]").inner_text().strip() == "1"
    _shoot(page, "console-dashboard")

    card.click()
    page.wait_for_url("**/admin/transactions/dispute/?status__exact=open**")
    page.click(f"#result_list a:has-text('{dispute.public_id}')")
    page.wait_for_selector("#console-actions")
    _shoot(page, "console-dispute")
    page.set_viewport_size(NARROW)  # the buttons are on the page itself, reachable on a phone too
    page.click('[data-console-action="refund"]')
    page.set_viewport_size(WIDE)

    summary = page.locator("#action-summary").inner_text()
    assert f"Refund the $20,000.00 now in the escrow wallet of {txn.reference} to the buyer, Garcia household" in (
        summary
    )
    _shoot(page, "console-confirm-refund")

    page.click("#console-action-confirm")  # no reason yet: refused, nothing happens
    assert "This field is required" in page.content()
    assert Dispute.objects.get(pk=dispute.pk).status == "open"

    page.fill("#id_reason", "Inspection report confirms undisclosed water damage")
    page.click("#console-action-confirm")
    page.wait_for_url(f"**/admin/transactions/dispute/{dispute.pk}/change/")
    assert "resolved: refund" in page.content()
    assert Dispute.objects.get(pk=dispute.pk).status == "resolved"
    event = AuditEvent.objects.get(kind="console.refund")
    assert event.payload["reason"] == "Inspection report confirms undisclosed water damage"
    assert event.actor == f"user:{operator.public_id}"

    page.goto(f"{live_server.url}/admin/")
    assert page.locator('[data-queue="disputes"] [data-count]').inner_text().strip() == "0"
    _shoot(page, "console-dashboard-cleared")

    # The audit trail names the operator and links the row acted on.
    page.goto(f"{live_server.url}/admin/audit/auditevent/?kind=console.refund")
    row = page.locator("#result_list tbody tr").first
    assert operator.username in row.inner_text()
    assert "Inspection report confirms" in row.inner_text()
    row.locator(f"a[href='/admin/transactions/dispute/{dispute.pk}/change/']").click()
    page.wait_for_url(f"**/admin/transactions/dispute/{dispute.pk}/change/")
    page.goto(f"{live_server.url}/admin/transactions/escrowtransaction/{txn.pk}/change/")
    _shoot(page, "console-transaction")
