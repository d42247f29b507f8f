"""The party pages as each person reads them: who must act, how much (formatted), by when; the
decisions they may take (and refusals for who may not); the PDF statement; the landing page,
sign-out and password reset."""

from __future__ import annotations

import html as html_lib
import re
from decimal import Decimal

from django.core import mail

from identity.models import Role
from tests.factories import TEST_PASSWORD, member
from tests.transactions.factories import close_funds, deliver, fund, make_escrow, task_of, verify_all
from transactions import services
from transactions.models import EscrowTransaction
from transactions.services.settlement import statement_for
from verifications.states import TaskStatus


def _text(response) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def _url(txn: EscrowTransaction, tail: str = "") -> str:
    return f"/escrow/{txn.public_id}/{tail}"


def _needs_decision(world) -> EscrowTransaction:
    txn = fund(world, make_escrow(world))
    deliver(txn, "title")
    deliver(txn, "inspection", passing=False)
    return EscrowTransaction.objects.get(pk=txn.pk)


def test_the_status_page_is_for_parties_only(world, client):
    txn = make_escrow(world)
    url = _url(txn)

    assert client.get(url).status_code == 302
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404
    client.force_login(world.seller_user)
    page = client.get(url)
    assert page.status_code == 200
    assert txn.reference in page.content.decode()


def test_awaiting_earnest_money_names_the_buyer_the_amount_and_how_to_pay(world, client):
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    client.force_login(world.buyer_user)

    response = client.get(_url(txn))
    text = _text(response)

    assert "Your turn: The buyer (Garcia household)" in text
    assert "Pay the earnest money" in text
    assert "Amount: $20,000.00" in text
    assert "closing is Jul 1, 2026" in text
    assert "Pay $20,000.00 by card" in text
    assert f"quoting reference {txn.reference}" in text  # the wire instructions
    assert "Purchase price $400,000.00" in text
    assert "You are the buyer" in text


def test_the_seller_sees_their_own_view_without_the_buyers_pay_button(world, client):
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    client.force_login(world.seller_user)

    text = _text(client.get(_url(txn)))

    assert "You are the seller" in text
    assert "The price is $400,000.00" in text
    assert "The buyer (Garcia household) Pay the earnest money" in text
    assert "Your turn" not in text
    assert "by card" not in text


def test_agents_and_the_lender_each_see_their_role(world, client):
    txn = make_escrow(world)
    for organization, label in (
        (world.buyer_brokerage, "buyer's agent"),
        (world.seller_brokerage, "seller's agent"),
    ):
        client.force_login(member(Role.AGENT, organization))
        text = _text(client.get(_url(txn)))
        assert f"You are the {label}" in text
        assert "Your commission: $10,000.00 (2.5% of the price)" in text
    lender_officer = member(Role.ORG_ADMIN, world.lender)
    client.force_login(lender_officer)
    text = _text(client.get(_url(txn)))
    assert "You are the lender" in text
    assert "Your loan: $300,000.00" in text


def test_the_lender_is_asked_for_the_loan_and_pays_it_from_the_page(world, client, django_capture_on_commit_callbacks):
    txn = fund(world, make_escrow(world))
    client.force_login(member(Role.VERIFIER, world.lender))

    text = _text(client.get(_url(txn)))
    assert "You are the lender" in text
    assert "Your turn: The lender (Lakeside Bank) Send the loan funds. Amount: $300,000.00" in text
    started = client.post(_url(txn, "pay/"), {"kind": "loan"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(started["Location"] + "sandbox/", {"card_number": "4242 4242 4242 4242"})

    assert txn.deposits.filter(kind="loan").count() == 1
    assert "Send the loan funds" not in _text(client.get(_url(txn)))


def test_the_inspector_sees_their_task_and_deadline_not_the_money(world, client):
    txn = fund(world, make_escrow(world))
    client.force_login(world.inspector_user)

    response = client.get(_url(txn))
    text = _text(response)

    assert response.status_code == 200
    assert "You are not a party" not in text
    assert "You are the verifier" in text
    assert "Your turn: Sound Inspections (verifier) Deliver the home inspection report" in text
    assert "Title search" not in text  # another agent's work is not theirs to read
    assert "$400,000.00" not in text
    assert "$300,000.00" not in text  # the lender's step is not theirs either
    assert "Clearview Title (verifier)" not in text
    assert client.get(_url(txn, "statement.pdf")).status_code == 404
    # And the verifier takes no party's step: no dispute, no decision.
    assert client.post(_url(txn, "dispute/"), {"reason": "x"}).status_code == 404


def test_needs_a_decision_shows_the_reason_and_the_buyers_button_which_works(world, client):
    txn = _needs_decision(world)
    client.force_login(world.buyer_user)

    text = _text(client.get(_url(txn)))
    assert "Needs a decision" in text
    assert "Why: Safety finding in Electrical" in text
    assert "Accept the home inspection findings and go on" in text
    assert "Cancel the escrow" not in text  # the officer's decision, not the buyer's

    response = client.post(_url(txn, "decide/"), {"decision": "waive", "target": "inspection"})

    assert response.status_code == 302
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    assert txn.status == "verifying"
    assert task_of(txn, "inspection").waived is True
    after = _text(client.get(_url(txn)))
    assert "You accepted the findings" in after
    assert "The buyer accepted the Home inspection findings" in after  # the timeline


def test_a_seller_may_not_take_the_buyers_decision(world, client):
    txn = _needs_decision(world)
    client.force_login(world.seller_user)

    assert "Accept the home inspection findings" not in _text(client.get(_url(txn)))
    response = client.post(_url(txn, "decide/"), {"decision": "waive", "target": "inspection"})

    assert response.status_code == 403
    assert "Only the buyer or the escrow officer may waive" in _text(response)
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    assert txn.status == "needs_decision"
    assert task_of(txn, "inspection").status == TaskStatus.REJECTED


def test_the_escrow_officer_renegotiates_on_the_page(world, client):
    txn = _needs_decision(world)
    client.force_login(world.officer)
    assert "Record a new agreed price" in _text(client.get(_url(txn)))

    response = client.post(
        _url(txn, "decide/"),
        {"decision": "renegotiate", "target": "inspection", "purchase_price": "390000.00"},
    )

    assert response.status_code == 302
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    assert txn.purchase_price == Decimal("390000.00")
    assert txn.status == "verifying"
    assert "Price renegotiated" in _text(client.get(_url(txn)))


def test_clear_to_close_says_bring_the_cash_to_close(world, client):
    txn = verify_all(fund(world, make_escrow(world)))
    services.deposit_receive(transaction_id=txn.pk, kind="loan", amount=txn.loan_amount)
    due = statement_for(EscrowTransaction.objects.get(pk=txn.pk)).cash_from_buyer
    client.force_login(world.buyer_user)

    text = _text(client.get(_url(txn)))

    shown = f"${due:,.2f}"
    assert f"Bring {shown} to closing" in text
    assert f"The buyer brings {shown} to closing" in text
    assert "difference" not in text.lower()
    assert f"-{due}" not in text
    assert "Steps Terms agreed · done Earnest money · done Verifications · done Clear to close · now" in text


def test_a_dispute_reason_is_on_the_page_and_no_internal_words(world, client):
    txn = fund(world, make_escrow(world))
    services.dispute_raise(transaction_id=txn.pk, raised_by=world.seller_user, reason="Repairs outside the contract.")
    client.force_login(world.buyer_user)

    text = _text(client.get(_url(txn)))

    assert "Disputed: payments on hold" in text
    assert "Repairs outside the contract." in text
    assert "Release the money to the seller" not in text  # the officer's decision
    lowered = text.lower()
    for word in ("escrow wallet", "waiting: paused", "disputed or cooling off", "held in the escrow"):
        assert word not in lowered, word


def test_the_settled_page_balances_and_the_pdf_names_the_parties(world, client):
    txn = verify_all(fund(world, make_escrow(world)))
    close_funds(world, txn)
    services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    client.force_login(world.buyer_user)

    text = _text(client.get(_url(txn)))
    assert "Settled" in text
    assert "$376,740.00" in text  # cash to the seller
    assert "Contract sales price" in text
    assert "Commission to seller's agent (2.5%)" in text
    assert "Money in equals money out, to the cent." in text
    assert "Escrow drawn up" in text  # the timeline, from the audit trail
    assert "Earnest money received: $20,000.00" in text
    assert "Home inspection fee paid: $500.00" in text
    assert re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M UTC", text)

    response = client.get(_url(txn, "statement.pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content[:5] == b"%PDF-"
    words = _pdf_text(txn)
    for expected in ("Garcia household", "Chen household", "Clearview Title", "Signatures", "$376,740.00"):
        assert expected in words, expected


def _pdf_text(txn: EscrowTransaction) -> str:
    """The text WeasyPrint lays out on the PDF's pages (no PDF text extractor is installed)."""
    from weasyprint import HTML

    from transactions import party_page
    from transactions.statement_pdf import statement_pdf_bytes

    captured: list[str] = []
    original = HTML.write_pdf

    def spy(self, *args, **kwargs):
        document = self.render()
        for page in document.pages:
            stack = [page._page_box]
            while stack:
                box = stack.pop()
                if hasattr(box, "text"):
                    captured.append(box.text)
                stack.extend(getattr(box, "children", []))
        return original(self, *args, **kwargs)

    HTML.write_pdf = spy
    try:
        statement = party_page.statement_view(txn)
        assert statement is not None
        statement_pdf_bytes(txn=txn, statement=statement, people=party_page.people(txn))
    finally:
        HTML.write_pdf = original
    return " ".join(captured)


def test_the_buyer_pays_the_earnest_money_from_the_page(world, client, django_capture_on_commit_callbacks):
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    client.force_login(world.buyer_user)

    started = client.post(_url(txn, "pay/"), {"kind": "earnest"})
    assert started.status_code == 302
    payment_page = client.get(started["Location"])
    assert "Earnest money (buyer): $20,000.00" in _text(payment_page)
    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(started["Location"] + "sandbox/", {"card_number": "4242 4242 4242 4242"})

    assert paid.status_code == 302
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    assert txn.status == "verifying"
    assert "Paid $20,000.00" in _text(client.get(_url(txn)))


def test_the_seller_cannot_pay_the_earnest_money(world, client):
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    client.force_login(world.seller_user)

    response = client.post(_url(txn, "pay/"), {"kind": "earnest"})

    assert response.status_code == 403
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    assert txn.status == "awaiting_earnest_money"


def test_the_list_says_each_deals_role_and_plain_status(world, client):
    make_escrow(world)
    response = client.post("/escrow/login/", {"username": world.buyer_user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    text = _text(client.get("/escrow/"))
    assert "Harbor View" in text
    assert "Buyer" in text
    assert "Jul 1, 2026" in text


def test_the_landing_page_links_every_sign_in_and_sign_out_works(world, client):
    landing = client.get("/")
    assert landing.status_code == 200
    html = landing.content.decode()
    for target in ('href="/escrow/login/"', 'href="/employer/login/"', 'href="/admin/"'):
        assert target in html

    client.force_login(world.buyer_user)
    page = client.get("/escrow/").content.decode()
    assert 'action="/accounts/logout/"' in page
    out = client.post("/accounts/logout/")
    assert out.status_code == 302
    assert client.get("/escrow/").status_code == 302  # signed out: back to the sign-in


def test_password_reset_sends_a_link_that_sets_a_new_password(world, client):
    world.buyer_user.email = "maria@example.test"
    world.buyer_user.save(update_fields=["email"])

    response = client.post("/accounts/password_reset/", {"email": "maria@example.test"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", str(mail.outbox[0].body))
    assert link is not None
    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in _text(form)
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "N3w-harbor-2026!", "new_password2": "N3w-harbor-2026!"}
    )
    assert done.status_code == 302
    world.buyer_user.refresh_from_db()
    assert world.buyer_user.check_password("N3w-harbor-2026!")


def test_the_escrow_officer_resolves_a_dispute_on_the_page(world, client):
    txn = fund(world, make_escrow(world))
    dispute = services.dispute_raise(transaction_id=txn.pk, raised_by=world.seller_user, reason="Repairs.")
    client.force_login(world.buyer_user)
    refused = client.post(_url(txn, "decide/"), {"decision": "dismiss", "target": str(dispute.public_id)})
    assert refused.status_code == 403
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "disputed"

    client.force_login(world.officer)
    assert "Dismiss the dispute" in _text(client.get(_url(txn)))
    done = client.post(_url(txn, "decide/"), {"decision": "dismiss", "target": str(dispute.public_id)})

    assert done.status_code == 302
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "verifying"
    assert "Dispute withdrawn" in _text(client.get(_url(txn)))


def test_the_escrow_officer_opens_a_draft_from_the_page_and_the_buyer_cannot(world, client):
    txn = make_escrow(world)
    client.force_login(world.buyer_user)
    page = client.get(_url(txn))
    assert "The escrow officer (" in _text(page)  # they read who acts next
    assert not bool(re.search(r'data-decision="open"', page.content.decode()))  # but get no button
    assert client.post(_url(txn, "decide/"), {"decision": "open"}).status_code == 403
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "draft"

    client.force_login(world.officer)
    text = _text(client.get(_url(txn)))
    assert "You are the escrow officer" in text
    assert "Your turn: The escrow officer" in text
    assert client.post(_url(txn, "decide/"), {"decision": "open"}).status_code == 302

    assert EscrowTransaction.objects.get(pk=txn.pk).status == "awaiting_earnest_money"


def test_djangos_usual_sign_in_path_works_too(world, client):
    assert client.get("/accounts/login/").status_code == 200
    signed_in = client.post("/accounts/login/", {"username": world.seller_user.username, "password": TEST_PASSWORD})
    assert signed_in.status_code == 302
    assert client.get("/escrow/").status_code == 200
