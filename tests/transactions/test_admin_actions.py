"""Escrow console actions: a button on the object's page, a confirmation that says what will happen,
a required reason recorded in the audit trail, and the services' own refusals (four eyes) shown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from tests.console import action_url, confirm, page_text
from tests.transactions.factories import World, fund, make_escrow, wallet_balance
from transactions import services
from transactions.models import Dispute, EscrowTransaction, ManualDeposit, PlatformControl


def _console(world: World, client, user=None):
    user = user or world.operator
    user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def _console_events(obj, action: str):
    subject_type = obj._meta.label_lower.replace(".", "_")
    return AuditEvent.objects.filter(subject_type=subject_type, subject_id=str(obj.pk), kind=f"console.{action}")


def test_pause_needs_a_confirmation_and_a_reason_then_is_audited_with_it(world, client):
    txn = make_escrow(world)
    _console(world, client)

    page = client.get(f"/admin/transactions/escrowtransaction/{txn.pk}/change/")
    assert action_url(txn, "pause") in page_text(page)
    assert action_url(txn, "resume") not in page_text(page)  # only what applies to the row now
    confirmation = client.get(action_url(txn, "pause"))
    assert confirmation.status_code == 200
    assert f"Stop every payout of {txn.reference}" in page_text(confirmation)

    refused = client.post(action_url(txn, "pause"), {"reason": ""})
    assert refused.status_code == 400
    assert "This field is required" in page_text(refused)
    assert EscrowTransaction.objects.get(pk=txn.pk).paused is False
    assert not _console_events(txn, "pause").exists()

    done = confirm(client, txn, "pause", reason="Buyer reported a phishing e-mail")
    assert "payouts paused" in page_text(done)
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    assert (txn.paused, txn.pause_reason) == (True, "Buyer reported a phishing e-mail")
    event = _console_events(txn, "pause").get()
    assert event.actor == f"user:{world.operator.public_id}"
    assert event.payload["reason"] == "Buyer reported a phishing e-mail"
    assert event.payload["outcome"] == "done"
    assert event.payload["summary"].startswith(f"Stop every payout of {txn.reference}")

    confirm(client, txn, "resume", reason="Phishing ruled out with the buyer")
    assert EscrowTransaction.objects.get(pk=txn.pk).paused is False
    assert _console_events(txn, "resume").get().payload["reason"] == "Phishing ruled out with the buyer"


def test_a_too_short_reason_is_refused(world, client):
    txn = make_escrow(world)
    _console(world, client)
    response = client.post(action_url(txn, "pause"), {"reason": "ok"})
    assert response.status_code == 400
    assert EscrowTransaction.objects.get(pk=txn.pk).paused is False


def test_a_refused_action_shows_the_service_s_reason_and_records_nothing(world, client):
    txn = fund(world, make_escrow(world))
    _console(world, client)
    # Not clear to close: the button is not offered, and a forged POST changes nothing.
    response = confirm(client, txn, "execute_settlement", reason="Closing day")
    assert "does not apply" in page_text(response)
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "verifying"
    assert not _console_events(txn, "execute_settlement").exists()


def test_global_pause_says_what_it_stops_and_records_the_reason(world, client):
    _console(world, client)
    listing = client.get("/admin/transactions/platformcontrol/")
    assert "Payouts running" in page_text(listing)
    control = PlatformControl.objects.get(pk=1)

    page = client.get(action_url(control, "pause_all"))
    assert "Stop EVERY escrow payout on the platform" in page_text(page)
    confirm(client, control, "pause_all", reason="Rail reports fraud on outbound wires")

    control.refresh_from_db()
    assert (control.payouts_paused, control.reason) == (True, "Rail reports fraud on outbound wires")
    event = AuditEvent.objects.get(subject_type="escrow_platform_control", subject_id="payouts")
    assert (event.kind, event.actor) == ("escrow.payouts_paused_all", f"user:{world.operator.public_id}")
    assert event.payload["reason"] == "Rail reports fraud on outbound wires"
    assert _console_events(control, "pause_all").get().payload["reason"] == "Rail reports fraud on outbound wires"
    assert "Payouts paused" in page_text(client.get("/admin/transactions/platformcontrol/"))


def test_a_dispute_refund_names_the_amount_and_the_buyer(world, client):
    txn = fund(world, make_escrow(world))
    dispute = services.dispute_raise(transaction_id=txn.pk, raised_by=world.buyer_user, reason="Water damage")
    _console(world, client)

    page = client.get(action_url(dispute, "refund"))
    assert f"Refund the $20,000.00 now in the escrow wallet of {txn.reference} to the buyer, Garcia household" in (
        page_text(page)
    )
    confirm(client, dispute, "refund", reason="Inspection report confirms the damage")

    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("resolved", "refund")
    assert dispute.resolution_note == "Inspection report confirms the damage"
    assert wallet_balance(txn) == Decimal("0")
    event = _console_events(dispute, "refund").get()
    assert event.payload["reason"] == "Inspection report confirms the damage"
    assert "$20,000.00" in event.payload["summary"]
    # Resolved: no more buttons, and a second refund is not offered.
    assert "does not apply" in page_text(confirm(client, dispute, "refund", reason="Again, by mistake"))
    assert Dispute.objects.get(pk=dispute.pk).status == "resolved"


def test_a_manual_deposit_is_recorded_by_one_operator_and_confirmed_by_another(world, client):
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    _console(world, client)

    form = client.get(action_url(txn, "record_manual_deposit"))
    assert 'name="amount"' in page_text(form)
    assert 'name="provider_reference"' in page_text(form)
    recorded = confirm(
        client, txn, "record_manual_deposit", reason="Wire seen on the trust account statement",
        kind="earnest", amount="20000.00", provider_reference="FED-20261204-0001",
    )  # fmt: skip
    assert "waits for a second operator" in page_text(recorded)
    wire = ManualDeposit.objects.get(transaction=txn)
    assert (wire.status, wire.recorded_by, wire.amount) == ("pending", world.operator, Decimal("20000.00"))
    assert wallet_balance(txn) == 0

    own = confirm(client, wire, "confirm", reason="I saw it myself")
    assert "A second person must decide this: not the one who asked for it." in page_text(own)
    assert ManualDeposit.objects.get(pk=wire.pk).status == "pending"
    assert not _console_events(wire, "confirm").exists()
    assert wallet_balance(txn) == 0

    _console(world, client, world.operator2)
    page = client.get(action_url(wire, "confirm"))
    assert "$20,000.00" in page_text(page)
    confirm(client, wire, "confirm", reason="Matched on the bank statement line 14")
    wire.refresh_from_db()
    assert (wire.status, wire.decided_by) == ("confirmed", world.operator2)
    assert wallet_balance(txn) == Decimal("20000.00")
    assert _console_events(wire, "confirm").get().actor == f"user:{world.operator2.public_id}"
    assert _console_events(txn, "record_manual_deposit").get().payload["provider_reference"] == "FED-20261204-0001"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/transactions/escrowtransaction/",
        "/admin/transactions/dispute/",
        "/admin/transactions/payment/",
        "/admin/transactions/platformcontrol/",
        "/admin/transactions/manualdeposit/",
    ],
)
def test_no_bulk_action_dropdown_and_a_bulk_post_does_nothing(world, client, path):
    txn = make_escrow(world)
    _console(world, client)
    page = page_text(client.get(path))
    assert not bool('name="action"' in page)
    client.post("/admin/transactions/escrowtransaction/", {"action": "pause", "_selected_action": [txn.pk]})
    assert EscrowTransaction.objects.get(pk=txn.pk).paused is False


def test_read_only_records_refuse_changes_and_deletion(world, client):
    txn = make_escrow(world)
    _console(world, client)
    page = page_text(client.get(f"/admin/transactions/escrowtransaction/{txn.pk}/change/"))
    assert not bool('name="_save"' in page)
    assert not bool("/delete/" in page)
    changed = client.post(f"/admin/transactions/escrowtransaction/{txn.pk}/change/", {"property_address": "Elsewhere"})
    assert changed.status_code == 403
    deleted = client.post(f"/admin/transactions/escrowtransaction/{txn.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert EscrowTransaction.objects.get(pk=txn.pk).property_address == "12 Harbor View Rd, Portland, ME 04101"


def _approvals_due(client) -> str:
    page = page_text(client.get("/admin/"))
    start = page.index('data-queue="approvals"')
    at = page.index("data-count>", start) + len("data-count>")
    return page[at : page.index("<", at)].strip()


def test_a_large_settlement_is_approved_by_two_operators_and_executed_from_the_queue(world, client, settings):
    from datetime import timedelta

    from django.utils import timezone

    from tests.transactions.factories import close_funds, verify_all
    from transactions.models import SettlementStatement

    settings.ESCROW_APPROVAL_THRESHOLD = "100000.00"
    txn = verify_all(fund(world, make_escrow(world)))
    close_funds(world, txn)
    statement = SettlementStatement.objects.get(transaction=txn)
    _console(world, client)
    assert _approvals_due(client) == "1"
    listing = page_text(client.get("/admin/transactions/settlementstatement/?queue=due"))
    assert f"/admin/transactions/settlementstatement/{statement.pk}/change/" in listing

    page = page_text(client.get(action_url(statement, "approve")))
    assert f"Add your signature to the settlement of {txn.reference}" in page
    assert "0 of 2 operator approvals so far" in page
    confirm(client, statement, "approve", reason="Statement checked against the closing disclosure")
    again = confirm(client, statement, "approve", reason="Approving twice by mistake")
    assert "Refused:" in page_text(again)
    assert SettlementStatement.objects.get(pk=statement.pk).approvals.count() == 1

    _console(world, client, world.operator2)
    confirm(client, statement, "approve", reason="Second signature after review")
    statement.refresh_from_db()
    assert statement.status == "time_locked"
    assert _approvals_due(client) == "0"  # waiting out the time lock is nobody's work yet

    SettlementStatement.objects.filter(pk=statement.pk).update(unlock_at=timezone.now() - timedelta(seconds=1))
    assert _approvals_due(client) == "1"
    confirm(client, statement, "execute", reason="Time lock over; closing today")
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "settled"
    assert _approvals_due(client) == "0"
    assert _console_events(statement, "approve").count() == 2
    assert _console_events(statement, "execute").get().payload["reason"] == "Time lock over; closing today"


def test_the_read_only_page_shows_amounts_as_money(world, client):
    txn = make_escrow(world)
    _console(world, client)
    page = page_text(client.get(f"/admin/transactions/escrowtransaction/{txn.pk}/change/"))
    assert "$400,000.00" in page
    assert "$20,000.00" in page
    assert not bool("400000.0000" in page)
    # The verification fees in the milestones table read as money too.
    assert "$1,200.00" in page
    assert not bool("1200.0000" in page)
