"""A protocol configured wrong is refused when saved; a request that cannot be sent always has a
way out (cancel releases its hold, retry reroutes it); operators set outbound credentials."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from endorsements import funds
from endorsements.models import Dispatch, EndorsementAccount, EndorsementRequest, InsurerProfile
from endorsements.services import dispatch, funding, lifecycle
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from identity.models import User
from tests.endorsements.conftest import addition, day
from tests.endorsements.insurers import send_window


def available(world) -> Decimal:
    return funds.available(EndorsementAccount.objects.get(employer=world.employer, currency="USD"))


@pytest.mark.parametrize(
    ("protocol", "fields"),
    [
        (
            "sftp",
            {"sftp_host", "sftp_username", "sftp_private_key", "sftp_host_key", "x12_sender_id", "x12_receiver_id"},
        ),
        ("soap", {"base_url"}),
    ],
)
def test_a_protocol_without_what_it_needs_is_refused_at_configuration(live_world, protocol, fields):
    profile = live_world.profile
    profile.protocol = protocol
    if protocol == "soap":
        profile.base_url = "http://insurer.example/api"  # a REST address, not a WSDL

    with pytest.raises(ValidationError) as refused:
        profile.full_clean()

    assert set(refused.value.message_dict) == fields


def test_an_insurer_that_cannot_be_sent_to_dead_letters_and_cancel_releases_the_hold(live_world):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="400.00", currency="USD", idempotency_key="t1", actor="t")
    # Saved past validation (a row from before the check): nothing can be sent to it.
    InsurerProfile.objects.filter(pk=world.profile.pk).update(protocol="sftp")
    stuck = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")
    other = endorsement_submit(employer=world.employer, data=addition("E-2", effective=day(5), plan="DAY"), actor="t")
    assert available(world) == Decimal("400.00") - stuck.amount - other.amount

    sent = send_window()

    assert sent.status == Dispatch.Status.DEAD_LETTER
    assert "Insurer not configured" in sent.last_error
    lifecycle.request_cancel(request_id=stuck.pk, reason="insurer not reachable", actor="op")
    assert EndorsementRequest.objects.get(pk=stuck.pk).state == RequestState.CANCELLED
    assert available(world) == Decimal("400.00") - other.amount
    # Rerouted: the operator fixes the route and sends the other one again in the next window.
    lifecycle.request_retry(request_id=other.pk, actor="op")
    rerouted = EndorsementRequest.objects.get(pk=other.pk)
    assert (rerouted.state, rerouted.dispatch_id) == (RequestState.FUND_LOCKED, None)


def test_an_operator_stops_a_delivery_being_retried_and_can_then_cancel(live_world):
    world = live_world  # base_url points at a closed port: every attempt is transient
    funding.ea_topup(employer=world.employer, amount="400.00", currency="USD", idempotency_key="t1", actor="t")
    request = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    assert dispatch.dispatch_send(dispatch_id=dispatch_id) is not None  # retrying
    with pytest.raises(Exception, match="being delivered"):
        lifecycle.request_cancel(request_id=request.pk, reason="x", actor="op")

    stopped = dispatch.dispatch_stop(dispatch_id=dispatch_id, actor="user:1")

    assert stopped.status == Dispatch.Status.DEAD_LETTER
    lifecycle.request_cancel(request_id=request.pk, reason="insurer down", actor="op")
    assert available(world) == Decimal("400.00")


def test_operators_set_the_outbound_credential_write_only_and_the_admin_refuses_a_bad_protocol(client, live_world):
    client.force_login(User.objects.create_superuser("ins-root", "root@example.test", "pw-not-used-elsewhere"))
    profile = live_world.profile
    url = reverse("admin:endorsements_insurerprofile_change", args=[profile.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "sandbox-key" not in page.content.decode()  # never shown back
    form = {
        "insurer": profile.insurer_id,
        "proration_method": profile.proration_method,
        "protocol": "rest",
        "base_url": "http://insurer.example/",
        "api_key": "new-secret-key",
        "backdate_window_days": 60,
        "future_limit_days": 90,
        "window_seconds": 60,
        "max_attempts": 5,
        "sftp_port": 22,
        "sftp_inbound_dir": "inbound",
        "sftp_outbound_dir": "outbound",
    }

    assert client.post(url, form).status_code == 302
    assert InsurerProfile.objects.get(pk=profile.pk).api_key == "new-secret-key"
    assert client.post(url, {**form, "api_key": ""}).status_code == 302  # blank keeps it
    assert InsurerProfile.objects.get(pk=profile.pk).api_key == "new-secret-key"
    refused = client.post(url, {**form, "protocol": "sftp"})
    assert refused.status_code == 200
    assert "An SFTP insurer needs the SFTP host." in refused.content.decode()
    assert InsurerProfile.objects.get(pk=profile.pk).protocol == "rest"


@pytest.mark.parametrize("protocol", ["rest", "soap", "sftp"])
def test_every_gateway_refuses_an_insurer_host_in_our_own_network_without_connecting(live_world, settings, protocol):
    # Given an insurer whose host is in our network (a listener here stands for an internal service)...
    settings.ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE = False
    world = live_world
    internal = socket.socket()
    internal.bind(("127.0.0.1", 0))
    internal.listen(1)
    internal.settimeout(0.5)
    port = internal.getsockname()[1]
    where = {
        "rest": {"base_url": f"http://127.0.0.1:{port}/"},
        "soap": {"base_url": f"http://127.0.0.1:{port}/?wsdl"},
        "sftp": {
            "sftp_host": "127.0.0.1",
            "sftp_port": port,
            "sftp_username": "platform",
            # Never read: the host is refused before the key is imported.
            "sftp_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----",
            "sftp_host_key": "ssh-ed25519 AAAA",
            "x12_sender_id": "PLATFORM",
            "x12_receiver_id": "INSURER",
        },
    }[protocol]
    InsurerProfile.objects.filter(pk=world.profile.pk).update(protocol=protocol, **where)
    funding.ea_topup(employer=world.employer, amount="400.00", currency="USD", idempotency_key="t1", actor="t")
    request = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")

    # ...when the window sends...
    sent = send_window()

    # ...then nothing connects, and the delivery stops for an operator (no retries against it).
    with internal, pytest.raises(TimeoutError):
        internal.accept()
    assert sent.status == Dispatch.Status.DEAD_LETTER
    assert sent.attempts == 1
    assert "not a public address" in sent.last_error
    assert EndorsementRequest.objects.get(pk=request.pk).state == RequestState.DEAD_LETTER
