"""Every admin changelist and add page renders for an operator (smoke test)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from identity.models import User

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
