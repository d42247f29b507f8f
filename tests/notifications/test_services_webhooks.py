"""Webhooks: signed per Standard Webhooks, verified by the independent `standardwebhooks` package."""

from __future__ import annotations

import datetime as dt
import json
import socket
from datetime import timedelta
from ipaddress import ip_address

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
def test_endpoint_answering_500_is_retried_up_to_its_attempts_then_failed(receiver, settings):
    settings.NOTIFICATIONS_WEBHOOK_MAX_ATTEMPTS = 3  # 14 by default (test_circuit_per_endpoint.py)
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
    # Bounds taken around the call, not "now" afterwards: a slow machine must not fail this.
    before = timezone.now()
    assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
    after = timezone.now()
    row.refresh_from_db()
    delay = timedelta(seconds=5)
    assert before + delay <= row.next_attempt_at <= after + delay
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
def test_test_event_is_queued_then_sent_after_commit(receiver, eager_celery, django_capture_on_commit_callbacks):
    _, endpoint, secret = _org_with_endpoint(receiver)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        row = webhook_endpoint_test(endpoint_id=endpoint.pk)
    assert row.status == NotificationStatus.PENDING
    assert receiver.calls == []  # nothing goes out before the caller's transaction commits
    for callback in queued:
        callback()
    row.refresh_from_db()
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


# --- SSRF: a name that resolves inside, the answer body, DNS rebinding (review H2) ---------------


def _resolves_to_loopback(name: str) -> bool:
    try:
        return all(ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(name, 443))
    except OSError:
        return False


_LOCAL_NAME = socket.gethostname()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/x",  # 127.0.0.1 as one decimal number
        "https://0x7f000001/x",  # ... in hex
        "https://127.1/x",  # ... shortened
        "https://localhost./x",  # localhost with the root dot
        pytest.param(
            f"https://{_LOCAL_NAME}/x",
            marks=pytest.mark.skipif(
                not _resolves_to_loopback(_LOCAL_NAME), reason="this machine's name does not resolve to loopback"
            ),
            id="machine-name-resolving-to-loopback",
        ),
    ],
)
def test_names_and_number_forms_resolving_to_internal_addresses_are_refused_in_production_mode(settings, url):
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = False
    org = OrganizationFactory.create()
    with pytest.raises(DomainError) as caught:
        webhook_endpoint_register(organization_id=org.pk, url=url)
    assert caught.value.code == "webhook_url_internal"
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_a_host_that_resolves_internally_at_send_time_gets_nothing(receiver, settings):
    # Registered while it looked fine (or before its DNS changed): the send-time check is what counts.
    org = OrganizationFactory.create()
    webhook_endpoint_register(organization_id=org.pk, url=receiver.url.replace("127.0.0.1", "localhost"))
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = False
    (row,) = _enqueue_to(org)

    assert notification_deliver(notification_id=row.pk) == "failed"

    assert receiver.calls == []
    row.refresh_from_db()
    assert row.last_error == "the endpoint's host is not a public address"
    (attempt,) = row.attempt_log.all()
    assert "127.0.0.1" not in attempt.error  # the partner does not learn what the name points to
    assert "127.0.0.1" in attempt.operator_detail  # operators do


@pytest.mark.django_db
def test_the_connection_goes_to_the_address_that_was_checked(receiver, monkeypatch):
    # A name only our resolver knows: if anything looked it up again (DNS rebinding), it would fail.
    from escrow_project.common import egress

    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"] if host == "partner-pinned.test" else []

    monkeypatch.setattr(egress, "resolve", resolver)
    org = OrganizationFactory.create()
    port = receiver.url.split(":")[2].split("/")[0]
    webhook_endpoint_register(organization_id=org.pk, url=f"http://partner-pinned.test:{port}/hooks")
    (row,) = _enqueue_to(org)

    assert notification_deliver(notification_id=row.pk) == "sent"

    (call,) = receiver.wait_for_calls(1)
    assert call.headers["host"] == f"partner-pinned.test:{port}"  # the name still goes in Host (and SNI)
    assert lookups == ["partner-pinned.test"]


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["93.184.216.34"], False),
        (["93.184.216.34", "127.0.0.1"], True),  # one internal answer among public ones is enough
        (["169.254.169.254"], True),  # cloud metadata
        (["::ffff:10.0.0.1"], True),  # IPv4-mapped private
        (["64:ff9b::7f00:1"], True),  # NAT64 of loopback
        (["2002:7f00:1::"], True),  # 6to4 of loopback
        (["100.64.0.1"], True),  # carrier-grade NAT
        (["224.0.0.1"], True),  # multicast
        (["2606:4700::1111"], False),
    ],
)
def test_the_send_time_check_refuses_any_non_public_answer(monkeypatch, addresses, refused):
    from escrow_project.common import egress

    monkeypatch.setattr(egress, "resolve", lambda host, port: addresses)
    if refused:
        with pytest.raises(egress.EgressRefused):
            egress.checked_address("partner.test", 443, allow_private=False)
    else:
        assert egress.checked_address("partner.test", 443, allow_private=False) == addresses[0]


def test_a_connection_that_lands_on_an_internal_address_is_dropped_before_sending(receiver):
    # Second line of defence: whatever chose the address, the connected peer itself is checked.
    import requests

    from escrow_project.common import egress

    with (
        pytest.raises(requests.ConnectionError, match="non-public"),
        egress.pinned_session(pinned_address="127.0.0.1", allow_private=False) as session,
    ):
        session.post(receiver.url, data=b"{}", timeout=(10, 10))
    assert receiver.calls == []


@pytest.mark.django_db
def test_the_partners_answer_body_is_never_shown_to_the_caller(receiver, client_for):
    from identity.models import Role
    from tests.factories import member

    receiver.behaviour = lambda n: (404, 0.0)
    receiver.error_body = b"<html>internal admin console: jane.doe@corp.example root-token-123</html>"
    org, endpoint, _ = _org_with_endpoint(receiver)
    (row,) = _enqueue_to(org)

    assert notification_deliver(notification_id=row.pk) == "failed"

    row.refresh_from_db()
    (attempt,) = row.attempt_log.all()
    assert row.last_error == attempt.error == f"HTTP 404 ({len(receiver.error_body)} bytes)"
    assert attempt.status_code == 404
    listed = client_for(member(Role.INSURER, org)).get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries/")
    assert listed.status_code == 200
    assert "internal admin console" not in listed.content.decode()
    # Operators (admin only) see what answered, with personal data masked.
    assert "internal admin console" in attempt.operator_detail
    assert "jane.doe@corp.example" not in attempt.operator_detail


@pytest.mark.django_db
def test_a_connection_failure_does_not_tell_the_partner_why(settings):
    # "Connection refused" vs a timeout is a port scanner; the partner gets the class only.
    org = OrganizationFactory.create()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    webhook_endpoint_register(organization_id=org.pk, url=f"http://127.0.0.1:{closed_port}/hooks")
    (row,) = _enqueue_to(org)

    assert notification_deliver(notification_id=row.pk) == "retry_scheduled"

    row.refresh_from_db()
    assert row.last_error == "connection failed: ConnectionError"
    (attempt,) = row.attempt_log.all()
    assert "refused" in attempt.operator_detail.lower()


def _self_signed(tmp_path, name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_through_the_pinned_address_still_verifies_the_certificate_for_the_name(tmp_path):
    """Pinning changes where the socket goes, not whom TLS checks: SNI and the certificate name are
    the endpoint's host name, so a pinned connection to a server with another name's certificate fails."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import requests

    from escrow_project.common import egress

    cert, key = _self_signed(tmp_path, "partner-tls.test")
    seen_sni = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        with egress.pinned_session(pinned_address="127.0.0.1", allow_private=True) as session:
            ok = session.post(f"https://partner-tls.test:{port}/hooks", data=b"{}", verify=str(cert), timeout=20)
            assert ok.status_code == 204
            assert seen_sni == ["partner-tls.test"]
            with pytest.raises(requests.exceptions.SSLError):
                session.post(f"https://other-name.test:{port}/hooks", data=b"{}", verify=str(cert), timeout=20)
    finally:
        server.shutdown()
        server.server_close()
