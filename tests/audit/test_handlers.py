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


@pytest.mark.django_db
def test_role_grants_and_revocations_are_in_the_audit_trail():
    from audit.models import AuditEvent
    from identity import services
    from identity.models import OrganizationKind, Role
    from tests.factories import OrganizationFactory, UserFactory

    platform = OrganizationFactory.create(kind=OrganizationKind.PLATFORM_OPERATOR)
    user, granter = UserFactory.create(), UserFactory.create()
    membership = services.membership_grant(user=user, organization=platform, role=Role.OPERATOR, granted_by=granter)
    services.membership_revoke(membership=membership, revoked_by=granter)

    events = list(
        AuditEvent.objects.filter(subject_type="identity_organization", subject_id=str(platform.public_id)).order_by(
            "id"
        )
    )
    assert [event.kind for event in events] == ["identity.role_granted", "identity.role_revoked"]
    assert all(event.actor == f"user:{granter.public_id}" for event in events)
