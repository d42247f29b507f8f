"""Webhooks: signed per Standard Webhooks, verified by the independent `standardwebhooks` package."""

from __future__ import annotations

import datetime as dt
import json
from datetime import timedelta

import pytest
import standardwebhooks.webhooks as sw
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from escrow_project.common.errors import DomainError
from notifications.models import Notification, NotificationStatus, WebhookEndpoint, WebhookSecret
from notifications.services import (
    notification_deliver,
    notification_enqueue,
    notification_retry,
    webhook_endpoint_register,
    webhook_endpoint_test,
    webhook_secret_rotate,
)
from notifications.types import Recipient
from tests.factories import OrganizationFactory

CTX = {"reference": "END-42", "employer_name": "Acme Manufacturing Ltd", "policy_number": "P-9"}


def _org_with_endpoint(receiver, **kwargs):
    org = OrganizationFactory.create()
    endpoint, secret = webhook_endpoint_register(organization_id=org.pk, url=receiver.url, **kwargs)
    return org, endpoint, secret


def _enqueue_to(org, **kwargs):
    return notification_enqueue(
        kind="endorsement_confirmed", recipient=Recipient.organization(org.pk), context=CTX, **kwargs
    )


@pytest.mark.django_db(transaction=True)
def test_delivery_verifies_with_the_standardwebhooks_package(receiver, eager_celery):
    org, _, secret = _org_with_endpoint(receiver)

    (row,) = _enqueue_to(org)

    (call,) = receiver.wait_for_calls(1)
    payload = Webhook(secret).verify(call.body, call.headers)
    assert payload["type"] == "endorsement_confirmed"
    assert payload["data"] == CTX
    assert call.headers["webhook-id"] == f"msg_{row.public_id.hex}"
    assert call.headers["idempotency-key"] == call.headers["webhook-id"]
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT
    assert row.provider_message_id == call.headers["webhook-id"]


@pytest.mark.django_db(transaction=True)
def test_tampered_replayed_and_stale_deliveries_fail_verification(receiver, eager_celery, monkeypatch):
    org, _, secret = _org_with_endpoint(receiver)
    _enqueue_to(org)
    (call,) = receiver.wait_for_calls(1)
    hook = Webhook(secret)

    tampered_body = call.body.replace(b"END-42", b"END-43")
    with pytest.raises(WebhookVerificationError):
        hook.verify(tampered_body, call.headers)

    other_id = {**call.headers, "webhook-id": "msg_someone_else"}
    with pytest.raises(WebhookVerificationError):
        hook.verify(call.body, other_id)

    # A replay made to look fresh: the timestamp is signed, so changing it breaks the signature.
    replay = {**call.headers, "webhook-timestamp": str(int(call.headers["webhook-timestamp"]) + 400)}
    with pytest.raises(WebhookVerificationError):
        hook.verify(call.body, replay)

    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(call.body, call.headers)  # somebody else's secret

    # The untouched delivery, verified six minutes later (outside the 5-minute tolerance): stale.
    later = timezone.now() + timedelta(minutes=6)

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return later

    monkeypatch.setattr(sw, "datetime", Later)
    with pytest.raises(WebhookVerificationError, match="too old"):
        hook.verify(call.body, call.headers)


@pytest.mark.django_db(transaction=True)
def test_rotation_signs_with_both_secrets_during_the_grace_period(receiver, eager_celery):
    org, endpoint, old_secret = _org_with_endpoint(receiver)
    new_secret = webhook_secret_rotate(endpoint_id=endpoint.pk, grace_hours=24)

    _enqueue_to(org, dedupe_key="first")
    (call,) = receiver.wait_for_calls(1)
    assert len(call.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(call.body, call.headers)
    Webhook(new_secret).verify(call.body, call.headers)

    # Grace over: only the new secret signs.
    WebhookSecret.objects.filter(endpoint=endpoint, expires_at__isnull=False).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _enqueue_to(org, dedupe_key="second")
    second = receiver.wait_for_calls(2)[1]
    Webhook(new_secret).verify(second.body, second.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(second.body, second.headers)


def _make_due(row: Notification) -> None:
    # Stands in for the 5 s between attempts, so the test does not sleep.
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


@pytest.mark.django_db
def test_endpoint_answering_500_is_retried_three_times_then_failed(receiver):
    receiver.behaviour = lambda n: (500, 0.0)
    org, _, _ = _org_with_endpoint(receiver)
    (row,) = _enqueue_to(org)

    outcomes = []
    for _ in range(3):
        outcomes.append(notification_deliver(notification_id=row.pk))
        _make_due(row)
    assert outcomes == ["retry_scheduled", "retry_scheduled", "failed"]
    assert notification_deliver(notification_id=row.pk) == "already_failed"

    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED
    assert row.attempts == 3
    assert row.last_error.startswith("HTTP 500")
    calls = receiver.wait_for_calls(3)
    assert len(calls) == 3
    assert len({c.headers["webhook-id"] for c in calls}) == 1  # every retry is the same message
    assert [a.outcome for a in row.attempt_log.all()] == ["transient", "transient", "transient"]


@pytest.mark.django_db
def test_a_retry_is_not_sent_before_it_is_due(receiver):
    receiver.behaviour = lambda n: (503, 0.0)
    org, _, _ = _org_with_endpoint(receiver)
    (row,) = _enqueue_to(org)
    assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
    row.refresh_from_db()
    assert timedelta(seconds=4) < row.next_attempt_at - timezone.now() <= timedelta(seconds=5)
    assert notification_deliver(notification_id=row.pk) == "not_due"
    assert len(receiver.calls) == 1


@pytest.mark.django_db
def test_endpoint_that_times_out_is_a_transient_failure_with_the_reason(receiver, settings):
    settings.NOTIFICATIONS_WEBHOOK_READ_TIMEOUT_SECONDS = 0.3
    receiver.behaviour = lambda n: (200, 2.0)
    org, _, _ = _org_with_endpoint(receiver)
    (row,) = _enqueue_to(org)
    assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING
    assert row.last_error.startswith("timed out")


@pytest.mark.django_db
def test_a_4xx_answer_fails_at_once(receiver):
    receiver.behaviour = lambda n: (410, 0.0)
    org, _, _ = _org_with_endpoint(receiver)
    (row,) = _enqueue_to(org)
    assert notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.attempts == 1
    assert row.last_error.startswith("HTTP 410")


@pytest.mark.django_db
def test_a_sent_row_is_never_sent_twice_even_if_its_task_runs_again(receiver):
    org, _, _ = _org_with_endpoint(receiver)
    (row,) = _enqueue_to(org)
    assert notification_deliver(notification_id=row.pk) == "sent"
    assert notification_deliver(notification_id=row.pk) == "already_sent"
    assert len(receiver.calls) == 1


@pytest.mark.django_db
def test_redelivery_sends_the_same_message_again(receiver):
    org, _, _ = _org_with_endpoint(receiver)
    (row,) = _enqueue_to(org)
    notification_deliver(notification_id=row.pk)
    notification_retry(notification_id=row.pk)
    assert notification_deliver(notification_id=row.pk) == "sent"
    first, second = receiver.wait_for_calls(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert json.loads(first.body) == json.loads(second.body)


@pytest.mark.django_db
def test_endpoint_subscribed_to_other_kinds_gets_nothing(receiver):
    org, _, _ = _org_with_endpoint(receiver, kinds=["payment_released"])
    rows = _enqueue_to(org, channels=["webhook"])
    assert rows == []


@pytest.mark.django_db
def test_test_event_is_sent_and_recorded(receiver):
    _, endpoint, secret = _org_with_endpoint(receiver)
    row = webhook_endpoint_test(endpoint_id=endpoint.pk)
    assert row.status == NotificationStatus.SENT
    (call,) = receiver.wait_for_calls(1)
    assert Webhook(secret).verify(call.body, call.headers)["type"] == "webhook_test"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://127.0.0.1/x", "webhook_url_insecure"),
        ("https://user:pw@partner.example/x", "webhook_url_invalid"),
        ("https:///nohost", "webhook_url_invalid"),
    ],
)
def test_bad_endpoint_urls_are_refused(url, code):
    org = OrganizationFactory.create()
    with pytest.raises(DomainError) as caught:
        webhook_endpoint_register(organization_id=org.pk, url=url)
    assert caught.value.code == code
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_plain_http_is_refused_unless_allowed(settings):
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = False
    org = OrganizationFactory.create()
    with pytest.raises(DomainError) as caught:
        webhook_endpoint_register(organization_id=org.pk, url="http://partner.example/hooks")
    assert caught.value.code == "webhook_url_insecure"


@pytest.mark.django_db
def test_the_secret_is_encrypted_at_rest():
    from django.db import connection

    org = OrganizationFactory.create()
    endpoint, secret = webhook_endpoint_register(organization_id=org.pk, url="https://partner.example/hooks")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notifications_webhooksecret WHERE endpoint_id = %s", [endpoint.pk])
        (raw,) = cursor.fetchone()
    assert secret not in raw
    assert WebhookSecret.objects.get(endpoint=endpoint).secret == secret


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://169.254.169.254/latest",
        "https://10.0.0.5/x",
        "https://localhost/x",
        "https://[::1]/x",
    ],
)
def test_internal_addresses_are_refused_in_production_mode(settings, url):
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = False
    org = OrganizationFactory.create()
    with pytest.raises(DomainError) as caught:
        webhook_endpoint_register(organization_id=org.pk, url=url)
    assert caught.value.code == "webhook_url_internal"
    assert WebhookEndpoint.objects.count() == 0
