"""Writes of the identity app."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from escrow_project.common.errors import ConflictError
from identity.models import Membership, Organization, User


@transaction.atomic
def organization_create(*, name: str, kind: str, slug: str | None = None) -> Organization:
    """Create an organization; its slug must be unique."""
    slug = slug or slugify(name)[:80]
    try:
        with transaction.atomic():
            return Organization.objects.create(name=name, kind=kind, slug=slug)
    except IntegrityError:
        raise ConflictError(f"An organization with slug {slug!r} already exists.", code="organization_exists") from None


@transaction.atomic
def membership_grant(*, user: User, organization: Organization, role: str) -> Membership:
    """Give a user a role in an organization (idempotent)."""
    membership, _ = Membership.objects.get_or_create(user=user, organization=organization, role=role)
    return membership
