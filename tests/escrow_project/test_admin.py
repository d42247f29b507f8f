"""Every admin changelist and add page renders for an operator (smoke test)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule

from identity.models import User
from tests.escrow_project.crypto.canary import build


def opts_label(model: type) -> str:
    return str(model._meta.label)  # type: ignore[attr-defined]


# Rows whose validity depends on a rule the generic builder cannot guess (a check constraint, a
# one-of-several requirement, a natural primary key).
_REQUIRED_BY_RULES: dict[str, Any] = {
    "django_celery_beat.PeriodicTask": lambda: {
        "interval": IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    },
    "notifications.NotificationPreference": lambda: {"user": User.objects.create_user("prefs-owner")},
    "notifications.ChannelCircuit": lambda: {"channel": "email"},
}

MODELS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def operator_client(client):
    user = User.objects.create_superuser("root-operator", "root@example.test", "pw-not-used-elsewhere")
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), MODELS, ids=[m._meta.label for m, _ in MODELS])
def test_changelist_and_add_pages_render(operator_client, model, model_admin):
    opts = model._meta
    changelist = operator_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    request = changelist.wsgi_request
    if model_admin.has_add_permission(request):
        add = operator_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        assert add.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "model_admin"), MODELS, ids=[m._meta.label for m, _ in MODELS])
def test_change_page_and_populated_changelist_render(operator_client, model, model_admin):
    """A row's own page and the list showing it render: list_display callables and read-only
    fields run against real data, where crashes and leaks hide."""
    instance = build(model, _REQUIRED_BY_RULES.get(opts_label(model), dict)())
    opts = model._meta
    changelist = operator_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    if not model_admin.get_queryset(changelist.wsgi_request).filter(pk=instance.pk).exists():
        return  # a filtered view (e.g. parked requests only) rightly hides a row not in its state
    change = operator_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[instance.pk]))
    assert change.status_code == 200
