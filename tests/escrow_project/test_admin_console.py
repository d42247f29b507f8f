"""The operator console as a whole: the dashboard's queues count real rows and link to the rows to
clear; every action of every page asks for a reason before it does anything; read-only pages have
no Save or Delete and refuse a forged POST; audit rows link to their subject and name the actor."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditEvent
from escrow_project.common.admin import ConsoleAdmin, ObjectAction, ReadOnlyAdmin
from identity.models import Role, User
from notifications.models import Notification
from notifications.services import notification_enqueue
from notifications.types import Recipient
from tests.console import action_url, confirm, page_text
from tests.escrow_project.crypto.canary import build
from tests.escrow_project.test_admin import _REQUIRED_BY_RULES, MODELS, opts_label
from tests.factories import member
from tests.transactions.factories import fund, make_escrow, make_world
from transactions import services
from transactions.models import PlatformControl

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = User.objects.create_superuser("console-root", "root@example.test", "pw-not-used-elsewhere")
    client.force_login(user)
    return user


def _queue(page: str, key: str) -> str:
    """The count shown on the dashboard card of one queue."""
    start = page.index(f'data-queue="{key}"')
    count_at = page.index("data-count>", start) + len("data-count>")
    return page[count_at : page.index("<", count_at)].strip()


def test_the_dashboard_counts_real_rows_and_links_to_them(client, root):
    index = page_text(client.get(reverse("admin:index")))
    assert _queue(index, "disputes") == "0"
    assert _queue(index, "dead_notifications") == "0"
    assert "Payouts running" in index

    world = make_world()
    txn = fund(world, make_escrow(world))
    services.dispute_raise(transaction_id=txn.pk, raised_by=world.buyer_user, reason="Water damage")
    (row,) = notification_enqueue(kind="settlement_completed", recipient=Recipient.user(member(Role.BUYER).pk),
                                  context={"reference": "ESC-9"}, channels=["email"])  # fmt: skip
    Notification.objects.filter(pk=row.pk).update(status="failed", last_error="HTTP 503")
    services.payouts_pause_all(actor=world.operator, paused=True, reason="Drill")

    index = page_text(client.get(reverse("admin:index")))
    assert _queue(index, "disputes") == "1"
    assert _queue(index, "dead_notifications") == "1"
    assert "ALL PAYOUTS PAUSED" in index
    assert "/admin/transactions/dispute/?status__exact=open" in index
    listing = page_text(client.get("/admin/transactions/dispute/?status__exact=open"))
    assert txn.reference in listing


def test_the_sidebar_groups_models_by_business_and_view_site_is_the_landing_page(client, root):
    index = page_text(client.get(reverse("admin:index")))
    squeezed = " ".join(index.split())
    for group in ("Escrow", "Verifications", "Endorsements", "Money and ledger", "Audit", "Notifications", "Identity"):
        assert f"> {group} <" in squeezed or f">{group}<" in squeezed, group
    assert 'href="/"' in index


def test_no_console_page_offers_a_bulk_action_dropdown(root):
    request = RequestFactory().get("/admin/")
    request.user = root
    with_actions = [m._meta.label for m, a in admin.site._registry.items() if a.get_actions(request)]
    assert with_actions == []


# --- every action of every page: confirmation, reason, audit ---------------------------------
ACTIONS = [
    (model, model_admin, name)
    for model, model_admin in MODELS
    if isinstance(model_admin, ConsoleAdmin)
    for name in model_admin.object_actions
]


@pytest.mark.parametrize(("model", "model_admin", "name"), ACTIONS, ids=[f"{m._meta.label}.{n}" for m, _, n in ACTIONS])
def test_every_action_confirms_what_it_will_do_and_refuses_without_a_reason(client, root, model, model_admin, name):
    spec = getattr(type(model_admin), name)
    assert isinstance(spec, ObjectAction)
    obj = build(model, _REQUIRED_BY_RULES.get(opts_label(model), dict)())
    url = action_url(obj, name, model=model)
    if not spec.available(obj):
        response = client.post(url, {"reason": "A reason long enough"})
        assert response.status_code == 302  # back to the row, with "does not apply"; nothing ran
    else:
        page = client.get(url)
        assert page.status_code == 200
        fresh = model._default_manager.get(pk=obj.pk)  # as the page loads it (amounts as stored)
        assert str(escape(spec.describe(fresh))) in page_text(page)
        assert 'name="reason"' in page_text(page)
        refused = client.post(url, {"reason": ""})
        assert refused.status_code == 400
    subject_type = model._meta.label_lower.replace(".", "_")
    assert not AuditEvent.objects.filter(subject_type=subject_type, kind=f"console.{name}").exists()


READ_ONLY = [(model, model_admin) for model, model_admin in MODELS if isinstance(model_admin, ReadOnlyAdmin)]


@pytest.mark.parametrize(("model", "model_admin"), READ_ONLY, ids=[m._meta.label for m, _ in READ_ONLY])
def test_read_only_pages_show_no_save_or_delete_and_refuse_a_post(client, root, model, model_admin):
    obj = build(model, _REQUIRED_BY_RULES.get(opts_label(model), dict)())
    opts = model._meta
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    page = client.get(change)
    if page.status_code == 302:
        return  # a queue page (parked, held) opens only rows in its state; the model's own page is tested
    assert page.status_code == 200
    text = page_text(page)
    assert not bool('name="_save"' in text)
    assert not bool('name="_continue"' in text)
    assert not bool(reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk]) in text)
    assert client.post(change, {}).status_code == 403
    delete = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()


def test_audit_rows_link_to_their_subject_and_name_the_actor(client, root):
    world = make_world()
    txn = make_escrow(world)
    confirm(client, txn, "pause", reason="Suspicious change of the seller's bank")
    listing = page_text(client.get(reverse("admin:audit_auditevent_changelist")))
    assert reverse("admin:transactions_escrowtransaction_change", args=[txn.pk]) in listing
    assert ">console-root<" in listing
    assert "Suspicious change of the seller" in listing
    control = PlatformControl.objects.get_or_create(pk=1)[0]
    confirm(client, control, "pause_all", reason="Drill of the emergency switch")
    event = AuditEvent.objects.get(kind="escrow.payouts_paused_all")
    detail = page_text(client.get(reverse("admin:audit_auditevent_change", args=[event.pk])))
    assert reverse("admin:transactions_platformcontrol_change", args=[1]) in detail
    assert ">console-root<" in detail


def test_the_confirmation_page_is_for_staff_only(client):
    world = make_world()
    txn = make_escrow(world)
    client.force_login(world.buyer_user)
    response = client.get(action_url(txn, "pause"))
    assert response.status_code == 302  # to the console's login
    assert "/admin/login/" in response["Location"]
