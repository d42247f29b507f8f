"""What a person notices in the messages of a real deal: readable money and dates, links to the
platform as it is served, and one message per event even when they hold several roles."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from escrow_project.common.management.commands.run_platform import public_base_url
from identity.models import Role
from notifications.channels.sms import sms_text
from notifications.channels.webhook import payload_for
from notifications.kinds import KINDS
from notifications.models import ContactPoint, Notification, NotificationStatus, WebhookEndpoint
from notifications.rendering import notification_link, render_notification
from notifications.services import notification_deliver, notification_enqueue, notification_fanout_enqueue
from notifications.services.fanout import notification_fanout_expand
from notifications.types import Recipient
from tests.factories import OrganizationFactory, fanouts_expand, member
from tests.notifications.test_kinds_and_templates import (
    MONEY_VARIABLES,
    SHOWN_MONEY,
    STORED_MOMENT,
    STORED_MONEY,
    _sample,
)
from tests.transactions.factories import fund, make_escrow, make_world
from transactions import services as escrow_services

pytestmark = pytest.mark.django_db


def _deliver_pending_emails() -> None:
    for pk in Notification.objects.filter(channel="email", status=NotificationStatus.PENDING).values_list(
        "pk", flat=True
    ):
        notification_deliver(notification_id=pk)


def _mail_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def test_a_deals_emails_show_money_dates_and_links_to_the_served_port(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9000"  # what run_platform --port 9000 hands its children
    w = make_world()
    txn = make_escrow(w, purchase_price="1200000.00", earnest_money="350000.00", loan_amount="600000.00")

    fund(w, txn)  # opened, then the earnest money arrives and the verifications start
    fanouts_expand()
    _deliver_pending_emails()

    (opened,) = [m for m in _mail_to(w.buyer_user.email) if m.subject == f"Escrow {txn.reference} opened"]
    assert f"Escrow transaction {txn.reference} was opened for $350,000.00." in opened.body
    assert f"Details: http://127.0.0.1:9000/escrow/{txn.public_id}/" in opened.body
    html = opened.alternatives[0][0]
    assert "$350,000.00" in html
    assert f'href="http://127.0.0.1:9000/escrow/{txn.public_id}/"' in html
    assert "http://127.0.0.1:9000/notifications/preferences/" in opened.body
    assert "350000.00" not in opened.body
    assert ":8000" not in opened.body

    assigned = [m for m in mail.outbox if m.subject.startswith("Verification assigned")]
    assert assigned, "the agents are told of their tasks"
    for message in assigned:
        # "It is due on Dec 4, 2026, 5:50:00 PM UTC.", never "2026-12-04T17:50:00+00:00"
        assert re.search(
            r"It is due on [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M UTC\.", str(message.body)
        )
        assert not re.search(r"\d{4}-\d{2}-\d{2}T", str(message.body))
        assert "http://127.0.0.1:9000/" in message.body


def test_the_escrow_officer_who_is_also_a_member_of_the_escrow_company_gets_one_email_per_event():
    w = make_world()  # the officer is a member of the title company, which is the escrow company
    txn = make_escrow(w)

    escrow_services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    fanouts_expand()
    _deliver_pending_emails()

    subjects = [m.subject for m in _mail_to(w.officer.email)]
    assert subjects.count(f"Escrow {txn.reference} opened") == 1
    assert len(subjects) == len(set(subjects))
    live = Notification.objects.filter(recipient_user=w.officer, channel="live", kind="transaction_initiated")
    assert live.count() == 1


def test_two_party_links_to_one_address_get_one_email_and_each_person_one_live_message():
    buyer_org, seller_org = OrganizationFactory.create(), OrganizationFactory.create()
    buyer = member(Role.BUYER, buyer_org, email="Pat.Lee@example.test")
    seller = member(Role.SELLER, seller_org, email="pat.lee@example.test ")  # the same inbox, spelled otherwise
    context = {"reference": "ESC-77", "amount": "1500.00", "currency": "USD"}
    fanout = notification_fanout_enqueue(
        kind="payment_released",
        recipients=[Recipient.organization(buyer_org.pk), Recipient.organization(seller_org.pk)],
        context=context,
    )

    notification_fanout_expand(fanout_id=fanout.pk)
    _deliver_pending_emails()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].body.startswith("$1,500.00 was released for ESC-77.")
    live_users = set(Notification.objects.filter(channel="live").values_list("recipient_user_id", flat=True))
    assert live_users == {buyer.pk, seller.pk}


def test_one_person_in_an_organization_and_named_alone_gets_one_message_per_channel():
    org = OrganizationFactory.create()
    officer = member(Role.ESCROW_OFFICER, org)
    ContactPoint.objects.create(user=officer, phone="+14155550123")

    rows = notification_enqueue(
        kind="verification_overdue",
        recipient=Recipient.organization(org.pk),
        context={"reference": "ESC-8", "verification_type": "title search", "due_date": "2026-11-20"},
    )
    again = notification_fanout_enqueue(
        kind="verification_overdue",
        recipients=[Recipient.organization(org.pk), Recipient.user(officer.pk)],
        context={"reference": "ESC-9", "verification_type": "title search", "due_date": "2026-11-20"},
    )
    notification_fanout_expand(fanout_id=again.pk)

    assert sorted(r.channel for r in rows) == ["email", "live", "sms"]
    per_channel = Notification.objects.filter(recipient_user=officer).values_list("channel", flat=True)
    assert sorted(per_channel) == ["email", "email", "live", "live", "sms", "sms"]  # one of each per event


def test_a_webhook_payload_carries_the_absolute_link(settings):
    settings.PUBLIC_BASE_URL = "https://escrow.example.test"
    org = OrganizationFactory.create()
    endpoint = WebhookEndpoint.objects.create(organization=org, url="https://partner.example.test/hooks")
    (row,) = notification_enqueue(
        kind="transaction_initiated",
        recipient=Recipient.organization(org.pk),
        context={"reference": "ESC-5", "amount": "10.00", "currency": "USD"},
        channels=["webhook"],
        subject_type="escrow_transaction",
        subject_id="5f0c",
    )
    assert row.webhook_endpoint_id == endpoint.pk

    assert b'"url":"https://escrow.example.test/escrow/5f0c/"' in payload_for(row)


@pytest.mark.parametrize(
    ("host", "port", "given", "expected"),
    [
        ("127.0.0.1", 9000, "", "http://127.0.0.1:9000"),
        ("0.0.0.0", 9001, "", "http://127.0.0.1:9001"),
        ("127.0.0.1", 9000, "https://escrow.example.test/", "https://escrow.example.test"),
    ],
)
def test_run_platform_serves_links_on_its_own_port_unless_a_public_url_is_given(
    monkeypatch, host, port, given, expected
):
    monkeypatch.setenv("PUBLIC_BASE_URL", given)
    assert public_base_url(host, port) == expected


def test_a_text_message_and_a_live_message_carry_the_link_on_the_served_port(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9000"
    officer = member(Role.ESCROW_OFFICER)
    ContactPoint.objects.create(user=officer, phone="+14155550199")
    rows = notification_enqueue(
        kind="verification_overdue",
        recipient=Recipient.user(officer.pk),
        context={"reference": "ESC-4", "verification_type": "appraisal", "due_date": "2026-11-20T17:00:00+00:00"},
        subject_type="escrow_transaction",
        subject_id="9d2e",
    )
    by_channel = {row.channel: row for row in rows}

    assert sms_text(by_channel["sms"]) == "OVERDUE: appraisal for ESC-4 http://127.0.0.1:9000/escrow/9d2e/"
    assert notification_link(by_channel["live"]) == "http://127.0.0.1:9000/escrow/9d2e/"
    email = render_notification(by_channel["email"])
    assert "was due on Nov 20, 2026, 5:00:00 PM UTC" in email.text
    assert "Details: http://127.0.0.1:9000/escrow/9d2e/" in email.text


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_reaches_a_person_on_each_of_its_channels_readably(settings, kind):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9000"
    spec = KINDS[kind]
    if not spec.person_channels:
        pytest.skip(f"{kind} reaches partners' servers only")
    person = member(Role.ESCROW_OFFICER, email=f"{kind}@example.test")
    ContactPoint.objects.create(user=person, phone="+14155550142")
    context = {name: _sample(name) for name in spec.required}
    rows = notification_enqueue(
        kind=kind,
        recipient=Recipient.user(person.pk),
        context=context,
        subject_type="escrow_transaction",
        subject_id="7a1b",
    )

    assert sorted(row.channel for row in rows) == sorted(spec.person_channels)
    for row in rows:
        assert notification_deliver(notification_id=row.pk) == "sent", row.channel
    (message,) = mail.outbox
    assert ": http://127.0.0.1:9000/escrow/7a1b/\n" in message.body  # "Details: ..." or "Top up: ..."
    assert "Your notification preferences: http://127.0.0.1:9000/notifications/preferences/" in message.body
    if spec.essential:
        assert f"You always receive this message: it is about {spec.essential}." in message.body
        assert "List-Unsubscribe" not in message.extra_headers
    else:
        assert "Stop e-mails like this one: http://127.0.0.1:9000/notifications/unsubscribe/" in message.body
        assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    shown = str(message.subject) + str(message.body) + str(message.alternatives[0][0])  # type: ignore[attr-defined]
    if spec.required & MONEY_VARIABLES:
        assert SHOWN_MONEY in message.body
    assert STORED_MONEY not in shown
    assert STORED_MOMENT[:10] not in shown
