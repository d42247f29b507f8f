"""The party status page: login required, parties only, shows state, tasks, milestones and the statement."""

from __future__ import annotations

from tests.factories import TEST_PASSWORD
from tests.transactions.factories import close_funds, fund, make_escrow, verify_all
from transactions import services


def test_the_status_page_is_for_parties_only(world, client):
    txn = make_escrow(world)
    url = f"/escrow/{txn.public_id}/"

    assert client.get(url).status_code == 302
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404
    client.force_login(world.seller_user)
    page = client.get(url)
    assert page.status_code == 200
    assert txn.reference in page.content.decode()


def test_the_status_page_shows_the_balanced_statement_after_settlement(world, client):
    txn = verify_all(fund(world, make_escrow(world)))
    close_funds(world, txn)
    services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    client.force_login(world.buyer_user)

    html = client.get(f"/escrow/{txn.public_id}/").content.decode()

    assert "Settled" in html
    assert "Title search" in html
    assert "376740.00" in html  # cash to seller
    assert "Contract sales price" in html
    assert '<strong id="difference">0.00</strong>' in html


def test_login_page_and_list(world, client):
    make_escrow(world)
    response = client.post("/escrow/login/", {"username": world.buyer_user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert "Harbor View" in client.get("/escrow/").content.decode()
