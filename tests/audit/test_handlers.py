from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from tests.factories import UserFactory, operator

pytestmark = pytest.mark.django_db


def test_revealing_a_personal_value_in_the_console_is_audited_without_the_value(client) -> None:
    person = UserFactory.create(email="margaret.h@example.test")
    console = operator()
    console.is_superuser = True
    console.save(update_fields=["is_superuser"])
    client.force_login(console)

    response = client.post(f"/admin/identity/user/{person.pk}/reveal/email/")

    assert response.status_code == 200
    event = AuditEvent.objects.get(kind="console.personal_value_revealed")
    assert (event.subject_type, event.subject_id) == ("identity_user", str(person.pk))
    assert event.actor == f"user:{console.public_id}"
    assert event.payload == {"model": "identity.user", "field": "email"}
    assert "margaret" not in json.dumps(event.payload)


def test_a_get_that_only_asks_records_nothing(client) -> None:
    person = UserFactory.create(email="margaret.h@example.test")
    console = operator()
    console.is_superuser = True
    console.save(update_fields=["is_superuser"])
    client.force_login(console)

    assert client.get(f"/admin/identity/user/{person.pk}/reveal/email/").status_code == 200
    assert not AuditEvent.objects.exists()
