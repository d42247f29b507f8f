"""Admin actions call the services (and refuse what the services refuse)."""

from __future__ import annotations

from audit.models import AuditEvent
from tests.transactions.factories import fund, make_escrow
from transactions.models import EscrowTransaction, PlatformControl


def test_pause_and_resume_actions(world, client):
    txn = make_escrow(world)
    world.operator.is_superuser = True
    world.operator.save()
    client.force_login(world.operator)
    url = "/admin/transactions/escrowtransaction/"

    client.post(url, {"action": "pause", "_selected_action": [txn.pk]})
    assert EscrowTransaction.objects.get(pk=txn.pk).paused is True
    client.post(url, {"action": "resume", "_selected_action": [txn.pk]})
    assert EscrowTransaction.objects.get(pk=txn.pk).paused is False


def test_execute_settlement_action_reports_the_refusal(world, client):
    txn = fund(world, make_escrow(world))
    world.operator.is_superuser = True
    world.operator.save()
    client.force_login(world.operator)

    response = client.post(
        "/admin/transactions/escrowtransaction/",
        {"action": "execute_settlement", "_selected_action": [txn.pk]},
        follow=True,
    )

    assert "Settlement needs clear to close" in response.content.decode()
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "verifying"


def test_global_pause_action(world, client):
    world.operator.is_superuser = True
    world.operator.save()
    client.force_login(world.operator)

    # Readable (and selectable) before anybody ever paused.
    listing = client.get("/admin/transactions/platformcontrol/")
    assert "Payouts running" in listing.content.decode()

    client.post("/admin/transactions/platformcontrol/", {"action": "pause_all", "_selected_action": [1]})

    assert PlatformControl.objects.get(pk=1).payouts_paused is True
    assert "Payouts paused" in client.get("/admin/transactions/platformcontrol/").content.decode()
    event = AuditEvent.objects.get(subject_type="escrow_platform_control", subject_id="payouts")
    assert (event.kind, event.actor) == ("escrow.payouts_paused_all", f"user:{world.operator.public_id}")
