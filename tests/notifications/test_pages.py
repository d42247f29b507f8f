"""The preferences page and one-click unsubscribe, as a person (and their mail client) uses them."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils.html import escape

from escrow_project.common.errors import DomainError
from identity.models import Role
from notifications.kinds import KINDS
from notifications.models import Notification, NotificationPreference, NotificationStatus
from notifications.services import notification_deliver, notification_enqueue, preference_set
from notifications.types import Recipient
from notifications.unsubscribe import unsubscribe_token
from tests.factories import member, operator

pytestmark = pytest.mark.django_db

PAGE = "/notifications/preferences/"
OPENED = {"reference": "ESC-31", "amount": "350000.00", "currency": "USD"}
RELEASED = {"reference": "ESC-31", "amount": "1200.00", "currency": "USD"}


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _email(kind: str, user, context) -> tuple[Notification, Any]:
    (row,) = notification_enqueue(kind=kind, recipient=Recipient.user(user.pk), context=context, channels=["email"])
    if row.status != NotificationStatus.PENDING:
        return row, None
    mail.outbox.clear()
    assert notification_deliver(notification_id=row.pk) == "sent"
    row.refresh_from_db()
    (message,) = mail.outbox
    return row, message


def _checkbox(page: str, name: str) -> str:
    found = re.search(rf'<input type="checkbox" name="{re.escape(name)}"[^>]*>', page)
    assert found, f"no checkbox {name}"
    return found.group(0)


def test_signing_in_is_needed_and_leads_back_to_the_page():
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/login/?next={PAGE}"


def test_the_page_lists_every_kind_and_channel_a_person_receives_and_locks_the_essential_ones():
    ops = operator()
    page = _signed_in(ops).get(PAGE).content.decode()

    for spec in KINDS.values():
        for channel in spec.person_channels:
            box = _checkbox(page, f"{spec.name}:{channel}")
            assert " checked" in box  # everything is on until the person says otherwise
            assert (" disabled" in box) == bool(spec.essential)
        if spec.essential:
            assert escape(f"Always sent: it is about {spec.essential}.") in page
    assert 'name="webhook_test:' not in page  # a partner's server test, no person receives it


def test_turning_a_kind_off_on_the_page_stops_its_emails_and_only_those():
    buyer = member(Role.BUYER)
    client = _signed_in(buyer)
    page = client.get(PAGE).content.decode()
    wanted = {m.group(1): "on" for m in re.finditer(r'<input type="checkbox" name="([^"]+)"[^>]*checked', page)}
    wanted.pop("transaction_initiated:email")

    saved = client.post(PAGE, wanted, follow=True)

    assert "Your notification preferences are saved." in saved.content.decode()
    assert " checked" not in _checkbox(saved.content.decode(), "transaction_initiated:email")
    muted, message = _email("transaction_initiated", buyer, OPENED)
    assert muted.status == NotificationStatus.SKIPPED
    assert message is None
    (live,) = notification_enqueue(
        kind="transaction_initiated", recipient=Recipient.user(buyer.pk), context=OPENED, channels=["live"]
    )
    assert live.status == NotificationStatus.PENDING  # on screen stays on
    _, other = _email("verification_completed", buyer, {"reference": "ESC-31", "verification_type": "appraisal"})
    assert other is not None


def test_an_essential_kind_cannot_be_turned_off_on_the_page_or_through_the_service():
    buyer = member(Role.BUYER)
    client = _signed_in(buyer)

    client.post(PAGE, {})  # every box unticked, as a hand-made form would send

    assert not NotificationPreference.objects.filter(user=buyer, kind="payment_released").exists()
    row, message = _email("payment_released", buyer, RELEASED)
    assert row.status == NotificationStatus.SENT
    assert message is not None
    with pytest.raises(DomainError) as refused:
        preference_set(user_id=buyer.pk, kind="payment_released", channel="email", enabled=False)
    assert refused.value.code == "notification_kind_essential"
    # A channel-wide "off" set before (the API allows it) still lets essential messages through.
    preference_set(user_id=buyer.pk, channel="email", enabled=False)
    row, message = _email("dispute_raised", buyer, {"reference": "ESC-31", "reason": "the roof leaks"})
    assert row.status == NotificationStatus.SENT
    assert "You always receive this message: it is about a dispute on your transaction." in message.body


def test_the_email_footer_and_headers_offer_one_click_unsubscribe_for_a_kind_that_may_be_turned_off(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9000"
    buyer = member(Role.BUYER)
    _, message = _email("transaction_initiated", buyer, OPENED)

    header = message.extra_headers["List-Unsubscribe"]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = _group(re.fullmatch(r"<(http://127\.0\.0\.1:9000/notifications/unsubscribe/[^/]+/)>", header))
    assert f"Stop e-mails like this one: {link}" in message.body
    assert f'href="{link}"' in message.alternatives[0][0]
    assert "Your notification preferences: http://127.0.0.1:9000/notifications/preferences/" in message.body


def test_an_essential_email_has_no_unsubscribe():
    buyer = member(Role.BUYER)
    _, message = _email("payment_failed", buyer, {**RELEASED, "reason": "the bank refused it"})
    assert "List-Unsubscribe" not in message.extra_headers
    assert "unsubscribe" not in message.body
    assert unsubscribe_token(user_id=buyer.pk, kind="payment_failed") == ""


def _group(found: re.Match[str] | None) -> str:
    assert found is not None
    return found.group(1)


def _unsubscribe_path(message) -> str:
    header = message.extra_headers["List-Unsubscribe"]
    return _group(re.fullmatch(r"<https?://[^/]+(/notifications/unsubscribe/[^/]+/)>", header))


def test_a_get_only_asks_and_the_one_click_post_unsubscribes_without_signing_in():
    buyer = member(Role.BUYER)
    _, message = _email("transaction_initiated", buyer, OPENED)
    path = _unsubscribe_path(message)
    # A mail client: no session, no CSRF token (Django's test client enforces CSRF here).
    mail_client = Client(enforce_csrf_checks=True)

    asked = mail_client.get(path)  # a mail scanner following the link
    assert asked.status_code == 200
    assert "Stop these e-mails?" in asked.content.decode()
    assert not NotificationPreference.objects.filter(user=buyer).exists()

    done = mail_client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    assert KINDS["transaction_initiated"].description in done.content.decode()
    muted, again = _email("transaction_initiated", buyer, OPENED)
    assert muted.status == NotificationStatus.SKIPPED
    assert again is None
    _, other = _email("verification_completed", buyer, {"reference": "ESC-31", "verification_type": "appraisal"})
    assert other is not None  # only that kind stopped
    assert mail_client.post(path).status_code == 200  # clicking twice is fine


@pytest.mark.parametrize("tamper", ["forged", "other_user", "expired"])
def test_a_forged_altered_or_expired_link_is_refused_and_changes_nothing(monkeypatch, settings, tamper):
    buyer, other = member(Role.BUYER), member(Role.BUYER)
    if tamper == "forged":
        token = "eyJ1IjoxfQ:1tXyZ:not-a-signature"
    elif tamper == "other_user":
        # The other person's payload under this person's signature.
        genuine = unsubscribe_token(user_id=buyer.pk, kind="transaction_initiated").split(":")
        theirs = unsubscribe_token(user_id=other.pk, kind="transaction_initiated").split(":")
        token = ":".join([theirs[0], *genuine[1:]])
    else:
        settings.NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS = 60
        long_ago = time.time() - 61 * 86400
        monkeypatch.setattr("django.core.signing.time.time", lambda: long_ago)
        token = unsubscribe_token(user_id=buyer.pk, kind="transaction_initiated")
        monkeypatch.undo()

    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/notifications/unsubscribe/{token}/")
        assert response.status_code == 400
        body = response.content.decode()
        assert "This link does not work" in body
        assert ("expired" in body) == (tamper == "expired")
    assert not NotificationPreference.objects.exists()


def test_the_page_shows_the_same_choice_as_delivery_makes_and_reads_in_a_few_queries(django_assert_max_num_queries):
    from identity.models import Membership
    from notifications.models import NotificationPreference as Pref
    from notifications.selectors import preference_matrix_for_user
    from notifications.services import preference_resolve

    buyer = member(Role.BUYER)
    org_id = Membership.objects.get(user=buyer).organization_id
    Pref.objects.create(organization_id=org_id, channel="email", enabled=False)  # the organization: no e-mail
    preference_set(user_id=buyer.pk, kind="endorsement_woken", channel="email", enabled=True)  # but this one
    preference_set(user_id=buyer.pk, kind="verification_completed", channel="live", enabled=False)

    with django_assert_max_num_queries(6):
        matrix = preference_matrix_for_user(user=buyer)

    shown = {cell["name"]: cell["on"] for row in matrix for cell in row["cells"]}
    for name, on in shown.items():
        kind, channel = name.split(":")
        assert on == preference_resolve(kind=kind, channel=channel, user_id=buyer.pk, organization_id=None).enabled
    assert shown["endorsement_woken:email"] is True
    assert shown["transaction_initiated:email"] is False
    assert shown["payment_released:email"] is True  # essential
    assert shown["verification_completed:live"] is False
