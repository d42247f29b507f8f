"""The notifications API: my notifications and preferences; a partner's webhook endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from identity.models import OrganizationKind, Role
from notifications.models import Notification, NotificationPreference, WebhookEndpoint, WebhookSecret
from notifications.services import notification_deliver, notification_enqueue
from notifications.types import Recipient
from tests.conftest import requires_postgres
from tests.factories import OrganizationFactory, member, operator

CTX = {"reference": "ESC-1"}


@pytest.mark.django_db
def test_a_party_lists_only_its_own_notifications(client_for):
    mine, theirs = member(Role.BUYER), member(Role.BUYER)
    notification_enqueue(kind="settlement_completed", recipient=Recipient.user(mine.pk), context=CTX)
    notification_enqueue(kind="settlement_completed", recipient=Recipient.user(theirs.pk), context=CTX)

    response = client_for(mine).get("/api/v1/notifications/", {"channel": "email"})

    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["subject"] == "Escrow ESC-1 settled"
    assert item["channel"] == "email"
    assert item["status"] == "pending"
    assert "context" not in item


@pytest.mark.django_db
def test_mark_read_and_someone_elses_is_not_found(client_for):
    mine, theirs = member(Role.BUYER), member(Role.BUYER)
    (row, _) = notification_enqueue(kind="settlement_completed", recipient=Recipient.user(mine.pk), context=CTX)

    assert client_for(theirs).post(f"/api/v1/notifications/{row.public_id}/read/").status_code == 404
    response = client_for(mine).post(f"/api/v1/notifications/{row.public_id}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"] is not None


@pytest.mark.django_db
def test_preferences_are_set_through_the_api_and_bad_ones_refused(client_for):
    user = member(Role.BUYER)
    client = client_for(user)
    ok = client.post("/api/v1/notification-preferences/", {"kind": "", "channel": "email", "digest": True})
    assert ok.status_code == 200
    bad = client.post("/api/v1/notification-preferences/", {"channel": "sms", "digest": True})
    assert bad.status_code == 400
    assert bad.json()["code"] == "preference_digest_channel"
    assert list(NotificationPreference.objects.filter(user=user).values_list("channel", "digest")) == [("email", True)]
    assert client.get("/api/v1/notification-preferences/").json() == [
        {"kind": "", "channel": "email", "enabled": True, "digest": True}
    ]


@pytest.mark.django_db
def test_an_essential_kind_cannot_be_turned_off_through_the_api(client_for):
    user = member(Role.BUYER)
    response = client_for(user).post(
        "/api/v1/notification-preferences/", {"kind": "payment_released", "channel": "email", "enabled": False}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "notification_kind_essential"
    assert "money moved or failed to move" in response.json()["detail"]
    assert not NotificationPreference.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_phone_number_must_be_e164(client_for):
    client = client_for(member(Role.BUYER))
    response = client.put("/api/v1/notification-contact/", {"phone": "555-0100"})
    assert response.status_code == 400
    assert response.json()["code"] == "phone_invalid"
    assert client.put("/api/v1/notification-contact/", {"phone": "+14155550100"}).status_code == 200


@pytest.mark.django_db
def test_partner_registers_tests_rotates_and_redelivers(
    client_for, receiver, eager_celery, django_capture_on_commit_callbacks
):
    insurer_org = OrganizationFactory.create()
    partner = member(Role.INSURER, insurer_org)
    client = client_for(partner)

    created = client.post("/api/v1/webhook-endpoints/", {"url": receiver.url, "kinds": ["endorsement_confirmed"]})
    assert created.status_code == 201, created.json()
    endpoint = created.json()
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/api/v1/webhook-endpoints/").json()["results"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]

    with django_capture_on_commit_callbacks(execute=True):
        tested = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test/")
    assert tested.status_code == 202
    assert tested.json()["status"] == "pending"  # queued; a worker sends it after commit
    (call,) = receiver.wait_for_calls(1)
    Webhook(secret).verify(call.body, call.headers)

    rotated = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret/", {"grace_hours": 1})
    new_secret = rotated.json()["secret"]
    assert new_secret != secret

    (row,) = notification_enqueue(
        kind="endorsement_confirmed",
        recipient=Recipient.organization(insurer_org.pk),
        context={"reference": "END-1", "employer_name": "Acme"},
        channels=["webhook"],
    )
    notification_deliver(notification_id=row.pk)
    deliveries = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/").json()["results"]
    assert [(d["kind"], d["status"]) for d in deliveries] == [
        ("endorsement_confirmed", "sent"),
        ("webhook_test", "sent"),
    ]
    assert deliveries[0]["attempts_log"][0]["status_code"] == 200

    redelivered = client.post(f"/api/v1/webhook-deliveries/{deliveries[0]['id']}/redeliver/")
    assert redelivered.status_code == 202
    assert redelivered.json()["status"] == "pending"
    notification_deliver(notification_id=row.pk)
    calls = receiver.wait_for_calls(3)
    Webhook(new_secret).verify(calls[2].body, calls[2].headers)
    Webhook(secret).verify(calls[2].body, calls[2].headers)  # still in its grace hour


@pytest.mark.django_db
def test_other_partners_cannot_see_or_touch_an_endpoint(client_for):
    owner_org = OrganizationFactory.create()
    owner = member(Role.INSURER, owner_org)
    outsider = member(Role.INSURER)
    endpoint = client_for(owner).post("/api/v1/webhook-endpoints/", {"url": "https://partner.example/hooks"}).json()

    outsider_client = client_for(outsider)
    assert outsider_client.get("/api/v1/webhook-endpoints/").json()["results"] == []
    for method, path in [
        ("get", f"/api/v1/webhook-endpoints/{endpoint['id']}/"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret/"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint['id']}/test/"),
        ("get", f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/"),
        ("delete", f"/api/v1/webhook-endpoints/{endpoint['id']}/"),
    ]:
        assert getattr(outsider_client, method)(path).status_code == 404, path
    assert WebhookEndpoint.objects.get().is_active is True
    assert WebhookSecret.objects.count() == 1  # not rotated
    assert Notification.objects.count() == 0  # no test event
    assert client_for(operator()).get(f"/api/v1/webhook-endpoints/{endpoint['id']}/").status_code == 200


@pytest.mark.django_db
def test_endpoint_registration_refuses_bad_input_and_writes_nothing(client_for):
    client = client_for(member(Role.INSURER))
    insecure = client.post("/api/v1/webhook-endpoints/", {"url": "ftp://partner.example/x"})
    assert insecure.status_code == 400
    unknown_kind = client.post("/api/v1/webhook-endpoints/", {"url": "https://p.example/x", "kinds": ["nope"]})
    assert unknown_kind.status_code == 400
    assert unknown_kind.json()["errors"][0]["field"] == "kinds.0"
    assert WebhookEndpoint.objects.count() == 0
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_member_of_several_organizations_must_name_one(client_for):
    user = member(Role.INSURER)
    from tests.factories import MembershipFactory

    MembershipFactory.create(user=user, role=Role.INSURER)
    response = client_for(user).post("/api/v1/webhook-endpoints/", {"url": "https://p.example/x"})
    assert response.status_code == 400
    assert response.json()["code"] == "organization_required"


# --- Who may manage an organization's endpoints (review H3) -------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.BUYER, Role.SELLER, Role.AGENT, Role.AUDITOR])
def test_members_without_an_integration_role_cannot_see_or_touch_their_organizations_endpoints(client_for, role):
    org = OrganizationFactory.create()
    endpoint = (
        client_for(member(Role.INSURER, org))
        .post("/api/v1/webhook-endpoints/", {"url": "https://partner.example/hooks"})
        .json()
    )
    client = client_for(member(role, org))

    assert client.get("/api/v1/webhook-endpoints/").json()["results"] == []
    for method, path, data in [
        ("get", f"/api/v1/webhook-endpoints/{endpoint['id']}/", None),
        ("patch", f"/api/v1/webhook-endpoints/{endpoint['id']}/", {"url": "https://attacker.example/x"}),
        ("post", f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret/", {}),
        ("post", f"/api/v1/webhook-endpoints/{endpoint['id']}/test/", None),
        ("get", f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/", None),
        ("delete", f"/api/v1/webhook-endpoints/{endpoint['id']}/", None),
    ]:
        assert getattr(client, method)(path, data).status_code == 404, (method, path)
    # Registering one of their own for the organization they belong to: they know it exists, so 403.
    for body in [{"url": "https://attacker.example/x"}, {"url": "https://a.example/x", "organization": org.public_id}]:
        refused = client.post("/api/v1/webhook-endpoints/", body)
        assert refused.status_code == 403
        assert refused.json()["code"] == "webhook_manager_role_required"

    stored = WebhookEndpoint.objects.get()
    assert (stored.url, stored.is_active) == ("https://partner.example/hooks", True)
    assert WebhookSecret.objects.count() == 1
    assert Notification.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.INSURER, Role.EMPLOYER_HR, Role.VERIFIER, Role.ESCROW_OFFICER])
def test_integration_roles_manage_their_organizations_endpoints(client_for, role):
    client = client_for(member(role))
    created = client.post("/api/v1/webhook-endpoints/", {"url": "https://partner.example/hooks"})
    assert created.status_code == 201
    assert client.delete(f"/api/v1/webhook-endpoints/{created.json()['id']}/").status_code == 204


@pytest.mark.django_db
def test_nobody_manages_webhooks_for_an_individuals_organization(client_for):
    household = OrganizationFactory.create(kind=OrganizationKind.INDIVIDUAL)
    response = client_for(member(Role.INSURER, household)).post(
        "/api/v1/webhook-endpoints/", {"url": "https://partner.example/hooks"}
    )
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 0


# --- The test event never goes out inside the request's transaction (review H4) ----------------


@pytest.mark.django_db(transaction=True)
def test_the_test_event_is_sent_after_the_request_commits_and_a_replay_sends_nothing_more(
    client_for, receiver, eager_celery, monkeypatch
):
    from django.db import connection

    from notifications.channels.webhook import WebhookBackend

    inside_transaction = []
    send = WebhookBackend.send

    def spy(self, notification):
        inside_transaction.append(connection.in_atomic_block)
        return send(self, notification)

    monkeypatch.setattr(WebhookBackend, "send", spy)
    client = client_for(member(Role.INSURER))
    endpoint = client.post("/api/v1/webhook-endpoints/", {"url": receiver.url}).json()

    first = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test/", HTTP_IDEMPOTENCY_KEY="test-1")
    replay = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test/", HTTP_IDEMPOTENCY_KEY="test-1")

    assert first.status_code == replay.status_code == 202
    assert replay.json()["id"] == first.json()["id"]
    receiver.wait_for_calls(1)
    assert inside_transaction == [False]  # sent once, with no transaction (and so no lock) open
    assert Notification.objects.get().status == "sent"


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_slow_partner_on_test_does_not_hold_the_circuit_breaker_lock(client_for, receiver, eager_celery):
    """The circuit row is locked while a half-open probe is decided; no partner may keep it locked."""
    import threading

    from django.db import connection
    from django.db.utils import OperationalError
    from django.utils import timezone

    from notifications.models import ChannelCircuit, CircuitState, WebhookEndpoint

    lock_free_during_send = []
    key: dict[str, str] = {}

    def try_lock_from_elsewhere():
        try:
            with transaction.atomic():
                ChannelCircuit.objects.select_for_update(nowait=True).get(channel=key["value"])
            lock_free_during_send.append(True)
        except OperationalError:
            lock_free_during_send.append(False)
        finally:
            connection.close()

    def slow_partner(n):
        worker = threading.Thread(target=try_lock_from_elsewhere)
        worker.start()
        worker.join(30)
        return 200, 0.0

    receiver.behaviour = slow_partner
    client = client_for(member(Role.INSURER))
    endpoint = client.post("/api/v1/webhook-endpoints/", {"url": receiver.url}).json()
    key["value"] = f"webhook:{WebhookEndpoint.objects.get(public_id=endpoint['id']).pk}"  # per-endpoint breaker
    # An open breaker due to half-open: deciding the probe locks the circuit row.
    ChannelCircuit.objects.create(
        channel=key["value"], state=CircuitState.OPEN, opened_at=timezone.now() - timedelta(hours=1)
    )

    response = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test/", HTTP_IDEMPOTENCY_KEY="slow-1")

    assert response.status_code == 202
    receiver.wait_for_calls(1)
    assert lock_free_during_send == [True]
    assert ChannelCircuit.objects.get(channel=key["value"]).state == CircuitState.CLOSED  # the probe succeeded
