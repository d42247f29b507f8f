"""A buyer signs in, finds their transaction and reads a statement that balances, in a real browser."""

from __future__ import annotations

import pytest

from tests.factories import TEST_PASSWORD
from tests.transactions.factories import close_funds, fund, make_escrow, make_world, verify_all
from transactions import services


@pytest.mark.django_db(transaction=True)
def test_buyer_signs_in_and_reads_the_settled_statement(live_server, page, tmp_path):
    world = make_world()
    txn = verify_all(fund(world, make_escrow(world)))
    close_funds(world, txn)
    services.settlement_execute(transaction_id=txn.pk, actor=world.officer)

    page.goto(f"{live_server.url}/escrow/")
    assert "/escrow/login/" in page.url  # the list is behind the sign-in
    page.fill("#id_username", world.buyer_user.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.click(f"text={txn.reference}")

    assert page.url.endswith(f"/escrow/{txn.public_id}/")
    assert "Settled" in page.content()
    assert page.locator("#balance").inner_text() == "Money in equals money out, to the cent."
    assert page.locator("#cash-to-seller").inner_text() == "$376,740.00"
    page.screenshot(path=str(tmp_path / "statement.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_a_stranger_cannot_open_someone_elses_transaction(live_server, page):
    world = make_world()
    txn = make_escrow(world)
    page.goto(f"{live_server.url}/escrow/login/")
    page.fill("#id_username", world.outsider.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit], input[type=submit]")

    response = page.goto(f"{live_server.url}/escrow/{txn.public_id}/")
    assert response is not None
    assert response.status == 404
    assert txn.reference not in page.content()
