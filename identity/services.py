"""Writes of the identity app."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from identity.models import Membership, Organization, OrganizationKind, User
from identity.selectors import PLATFORM_ROLES
from identity.signals import membership_granted, membership_revoked


@transaction.atomic
def organization_create(
    *, name: str, kind: str, slug: str | None = None, client_of: Organization | None = None
) -> Organization:
    """Create an organization; its slug must be unique. `client_of`: the tenant a household belongs to."""
    slug = slug or slugify(name)[:80]
    if not slug:  # found by the API fuzzer: a name of punctuation made an organization with slug ""
        raise UnprocessableError(
            "The name has no letters or digits to make a slug from; send a slug.",
            code="slug_required",
            errors=[{"field": "slug", "code": "required", "message": "Send a slug for this name."}],
        )
    if client_of is not None and kind != OrganizationKind.INDIVIDUAL:
        raise UnprocessableError(
            "Only a household (kind individual) is a client of a tenant; businesses are shared.",
            code="client_of_not_allowed",
            errors=[{"field": "client_of", "code": "not_allowed", "message": "Only for kind individual."}],
        )
    try:
        with transaction.atomic():
            return Organization.objects.create(name=name, kind=kind, slug=slug, client_of=client_of)
    except IntegrityError:
        raise ConflictError(f"An organization with slug {slug!r} already exists.", code="organization_exists") from None


@transaction.atomic
def membership_grant(
    *, user: User, organization: Organization, role: str, granted_by: User | None = None
) -> Membership:
    """Give a user a role in an organization (idempotent); platform roles only in the platform's own."""
    if role in PLATFORM_ROLES and organization.kind != OrganizationKind.PLATFORM_OPERATOR:
        raise UnprocessableError(
            f"The {role} role has platform-wide reach and can only be held in the platform operator's organization.",
            code="platform_role_outside_platform",
        )
    membership, created = Membership.objects.get_or_create(user=user, organization=organization, role=role)
    if created:
        membership_granted.send(sender=Membership, membership=membership, granted_by=granted_by)
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership, revoked_by: User | None = None) -> None:
    """Take a role away; the news goes out in the same transaction (for the audit trail)."""
    membership_revoked.send(sender=Membership, membership=membership, revoked_by=revoked_by)
    membership.delete()


@transaction.atomic
def organization_claim_client(*, organization: Organization, tenant: Organization) -> Organization:
    """A household nobody serves yet becomes the tenant's client; one served by another tenant is refused."""
    row = Organization.objects.select_for_update().get(pk=organization.pk)
    if row.client_of_id is None:
        row.client_of = tenant
        row.save(update_fields=["client_of"])
    elif row.client_of_id != tenant.pk:
        raise PermissionDeniedError(f"{row} is a client of another escrow company.", code="party_of_another_tenant")
    return row
