"""Platform-wide roles exist only inside the platform operator's organization, and every role
change is announced for the audit trail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from escrow_project.common.errors import UnprocessableError
from identity import services
from identity.models import Membership, OrganizationKind, Role
from identity.selectors import user_is_operator, user_roles
from identity.signals import membership_granted, membership_revoked
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_operator_role_in_a_partner_organization_is_refused_and_nothing_is_written():
    partner = OrganizationFactory.create(kind=OrganizationKind.LENDER)
    user = UserFactory.create()
    with pytest.raises(UnprocessableError) as refused:
        services.membership_grant(user=user, organization=partner, role=Role.OPERATOR)
    assert refused.value.code == "platform_role_outside_platform"
    assert not Membership.objects.filter(user=user).exists()
    assert not user_is_operator(user)


def test_a_stray_operator_row_outside_the_platform_grants_nothing():
    # Rows written before this rule (or by SQL) must not confer platform power either.
    user = UserFactory.create()
    Membership.objects.create(user=user, organization=OrganizationFactory.create(), role=Role.OPERATOR)
    Membership.objects.create(user=user, organization=OrganizationFactory.create(), role=Role.AUDITOR)
    assert not user_is_operator(user)
    assert user_roles(user) == set()


def test_grant_and_revoke_announce_the_change_once():
    platform = OrganizationFactory.create(kind=OrganizationKind.PLATFORM_OPERATOR)
    user, admin_user = UserFactory.create(), UserFactory.create()
    granted, revoked = [], []

    def on_grant(**kwargs: object) -> None:
        granted.append(kwargs)

    def on_revoke(**kwargs: object) -> None:
        revoked.append(kwargs)

    membership_granted.connect(on_grant)
    membership_revoked.connect(on_revoke)
    try:
        membership = services.membership_grant(
            user=user, organization=platform, role=Role.OPERATOR, granted_by=admin_user
        )
        services.membership_grant(user=user, organization=platform, role=Role.OPERATOR, granted_by=admin_user)
        assert user_is_operator(user)
        services.membership_revoke(membership=membership, revoked_by=admin_user)
    finally:
        membership_granted.disconnect(on_grant)
        membership_revoked.disconnect(on_revoke)
    assert len(granted) == 1  # the repeat grant changed nothing and announced nothing
    assert granted[0]["granted_by"] == admin_user
    assert len(revoked) == 1
    assert not user_is_operator(user)


def test_staff_who_are_not_superusers_cannot_touch_memberships(client):
    staff = UserFactory.create(is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.set(Permission.objects.filter(codename__endswith="_membership"))
    client.force_login(staff)
    assert client.get(reverse("admin:identity_membership_add")).status_code == 403
