"""Each role's main journey on the party pages, in Debian's Chromium: the buyer pays the earnest
money and follows the tracker to settlement; the verifier works their inbox; the seller and the
agents read their own view. Every page is screenshot at 1400 px and 390 px wide into
var/test-artifacts/screenshots/, must not run off the side at 390 px, and must pass axe-core with
no serious or critical violation (scripts/ci-system-deps.d/35-axe-core.sh installs axe-core)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from identity.models import Role
from tests.factories import TEST_PASSWORD, member
from tests.transactions.factories import deliver, fund, make_escrow, make_world
from transactions import services
from transactions.models import EscrowTransaction

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "test-artifacts" / "screenshots"
AXE = ROOT / "tests" / "browser" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/")
    page.click("#signin-parties")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/escrow/$"))


def _check(page: Any, name: str) -> None:
    """Screenshots at both widths; at 390 px nothing is cut off; axe finds nothing serious."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.screenshot(path=str(SHOTS / f"{name}-1400.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: {overflow}px run off the side at 390 px"
    if AXE.exists():
        page.evaluate(AXE.read_text())  # evaluated by the browser's debugger: the page's CSP stays on
        result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]})"
            for v in result
            if v.get("impact") in ("serious", "critical")
        ]
        assert not serious, f"{name}: " + "; ".join(serious)
    page.set_viewport_size({"width": 1400, "height": 900})


@pytest.fixture(autouse=True)
def _axe_installed() -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run scripts/ci-system-deps.d/35-axe-core.sh")


@pytest.mark.django_db(transaction=True)
def test_buyer_pays_earnest_money_and_follows_the_tracker_to_settlement(live_server, page):
    world = make_world()
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    base = live_server.url

    page.goto(f"{base}/")
    _check(page, "landing")
    _sign_in(page, base, world.buyer_user.username)
    _check(page, "buyer-list")
    page.click(f"text={txn.reference}")
    assert page.locator("#status").inner_text() == "Awaiting earnest money"
    assert "Your turn" in page.locator("#next").inner_text()
    assert "$20,000.00" in page.locator("#next").inner_text()
    _check(page, "buyer-awaiting-earnest-money")

    page.click("text=Pay $20,000.00 by card")
    _check(page, "buyer-payment")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/escrow/{txn.public_id}/$"))
    assert "Paid $20,000.00" in page.content()
    assert page.locator("#status").inner_text() == "Verifications under way"
    assert page.locator("ol.tracker li[aria-current=step]").inner_text().startswith("Verifications")

    txn = EscrowTransaction.objects.get(pk=txn.pk)
    for kind in ("title", "inspection", "appraisal", "lending"):
        deliver(txn, kind)
    services.deposit_receive(transaction_id=txn.pk, kind="loan", amount=txn.loan_amount)  # the lender's wire
    page.reload()
    assert page.locator("#status").inner_text() == "Clear to close"
    bring = page.locator("#next").inner_text()
    assert re.search(r"Bring \$\d{1,3}(,\d{3})*\.\d{2} to closing", bring), bring
    _check(page, "buyer-clear-to-close")

    page.click("#next button:has-text('by card')")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/escrow/{txn.public_id}/$"))
    services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    page.reload()
    assert page.locator("#status").inner_text() == "Settled"
    states = page.locator("ol.tracker li").evaluate_all("items => items.map(i => i.className)")
    assert states == ["done"] * 6
    assert "Money in equals money out" in page.locator("#balance").inner_text()
    _check(page, "buyer-settled")

    with page.expect_download() as download:
        page.click("#statement-pdf")
    path = download.value.path()
    assert Path(path).read_bytes()[:5] == b"%PDF-"

    # Print: the statement and the summary, not the site's header or the forms.
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden()
    assert page.locator("#next").is_hidden()
    assert page.locator("#statement").is_visible()
    page.emulate_media(media="screen")


@pytest.mark.django_db(transaction=True)
def test_verifier_works_their_inbox(live_server, page):
    world = make_world()
    txn = fund(world, make_escrow(world))
    base = live_server.url

    _sign_in(page, base, world.inspector_user.username)
    page.click("text=open your verification inbox")
    assert "Home inspection" in page.locator("#todo").inner_text()
    _check(page, "verifier-inbox")
    page.click("#todo >> text=Home inspection")
    page.click("text=Start work")
    assert page.locator("#task-status").inner_text() == "In progress"
    _check(page, "verifier-task")

    page.fill("#f-inspected_on", "2026-06-01")
    page.fill("#f-inspector_license", "HI-48213")
    page.fill("#f-findings-0-area", "Roof")
    page.fill("#f-findings-0-description", "Granule loss on the south slope")
    page.select_option("#f-findings-0-severity", "moderate")
    page.fill("#f-findings-0-repair_estimate", "1800.00")
    page.fill("#f-summary", "Fair condition for its age.")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#task-status")).to_have_text("Accepted")
    assert "Report delivered and accepted." in page.content()

    page.click("text=The deal's page")
    assert page.url.endswith(f"/escrow/{txn.public_id}/")
    assert page.locator("#your-role").inner_text() == "verifier"
    assert "You are not a party" not in page.content()
    _check(page, "verifier-deal")


@pytest.mark.django_db(transaction=True)
def test_seller_and_agents_see_their_own_view_and_the_decision_waits_for_the_buyer(live_server, page):
    world = make_world()
    txn = fund(world, make_escrow(world))
    deliver(txn, "title")
    deliver(txn, "inspection", passing=False)
    base = live_server.url
    for user, role, name in (
        (world.seller_user, "seller", "seller"),
        (member(Role.AGENT, world.buyer_brokerage), "buyer's agent", "buyer-agent"),
        (member(Role.AGENT, world.seller_brokerage), "seller's agent", "seller-agent"),
    ):
        page.context.clear_cookies()
        _sign_in(page, base, user.username)
        page.goto(f"{base}/escrow/{txn.public_id}/")
        assert page.locator("#your-role").inner_text() == role
        assert "Safety finding" in page.locator("#next").inner_text()
        assert page.locator("#next button[data-decision=waive]").count() == 0
        _check(page, f"{name}-needs-decision")

    page.context.clear_cookies()
    _sign_in(page, base, world.buyer_user.username)
    page.goto(f"{base}/escrow/{txn.public_id}/")
    _check(page, "buyer-needs-decision")
    page.click("#next button[data-decision=waive]")
    assert "You accepted the findings" in page.content()
    assert page.locator("#status").inner_text() == "Verifications under way"
