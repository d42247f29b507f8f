from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from identity.models import Membership, Organization, OrganizationKind, Role, User

TEST_PASSWORD = "correct-horse-battery-staple"


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    kind = OrganizationKind.BROKERAGE


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.AGENT


def member(role: str = Role.AGENT, organization: Organization | None = None, **user_fields: object) -> User:
    """A user holding `role` in `organization` (a new one when not given)."""
    user = UserFactory.create(**user_fields)
    MembershipFactory.create(user=user, organization=organization or OrganizationFactory.create(), role=role)
    return user


def operator() -> User:
    return member(Role.OPERATOR, OrganizationFactory.create(kind=OrganizationKind.PLATFORM_OPERATOR), is_staff=True)


def auditor() -> User:
    return member(Role.AUDITOR, OrganizationFactory.create(kind=OrganizationKind.PLATFORM_OPERATOR))


def fanouts_expand() -> int:
    """What the notifications worker does after commit: expand every waiting fan-out into outbox rows."""
    from notifications.models import NotificationFanout
    from notifications.services import notification_fanout_expand

    waiting = NotificationFanout.objects.filter(expanded_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    return sum(notification_fanout_expand(fanout_id=pk) for pk in waiting)
