"""Writes of the identity app."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from identity.api_keys import key_digest, key_generate
from identity.models import ApiKey, Membership, Organization, OrganizationKind, Role, User
from identity.selectors import PLATFORM_ROLES, user_is_operator
from identity.signals import api_key_issued, api_key_revoked, membership_granted, membership_revoked

# A key acts for an organization in its business roles; it never administers (so a leaked key
# cannot mint keys or change payout details) and never holds platform-wide reach.
API_KEY_SCOPES = frozenset(Role) - PLATFORM_ROLES - {Role.ORG_ADMIN}


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


def _may_manage_keys(user: User | None, organization: Organization) -> bool:
    if user is None:
        return False
    return (
        user_is_operator(user)
        or Membership.objects.filter(user=user, organization=organization, role=Role.ORG_ADMIN).exists()
    )


@transaction.atomic
def api_key_issue(
    *,
    organization: Organization,
    name: str,
    scopes: list[str],
    issued_by: User | None,
    read_only: bool = False,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key for `organization` acting in `scopes`; returns (row, the key: shown this once only)."""
    if not _may_manage_keys(issued_by, organization):
        raise PermissionDeniedError("Only the organization's administrator or an operator manages its API keys.")
    refused = sorted(set(scopes) - API_KEY_SCOPES)
    if not scopes or refused:
        raise UnprocessableError(
            f"A key's scopes are business roles: {', '.join(sorted(API_KEY_SCOPES))}.",
            code="api_key_scope_invalid",
            errors=[{"field": "scopes", "code": "invalid_choice", "message": f"Not allowed: {', '.join(refused)}."}],
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise UnprocessableError(
            "The expiry is in the past.",
            code="api_key_expiry_past",
            errors=[{"field": "expires_at", "code": "past", "message": "Choose a time in the future."}],
        )
    # Named after a fresh random handle, not the key: the username shows in logs and audit lines.
    service_user = User(username=f"apikey-{key_generate()[0]}", is_active=True)
    service_user.set_unusable_password()
    service_user.save()
    for role in sorted(set(scopes)):
        membership_grant(user=service_user, organization=organization, role=role, granted_by=issued_by)
    return _key_create(
        template=ApiKey(
            organization=organization,
            service_user=service_user,
            name=name,
            scopes=sorted(set(scopes)),
            read_only=read_only,
            expires_at=expires_at,
        ),
        issued_by=issued_by,
    )


def _key_create(*, template: ApiKey, issued_by: User | None) -> tuple[ApiKey, str]:
    prefix, key = key_generate()
    template.prefix = prefix
    template.key_digest = key_digest(key)
    template.created_by = issued_by
    template.save()
    api_key_issued.send(sender=ApiKey, api_key=template, issued_by=issued_by)
    return template, key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, revoked_by: User | None) -> ApiKey:
    """Revoke at once (idempotent). The service user is disabled once none of its keys is live."""
    row = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not _may_manage_keys(revoked_by, row.organization):
        raise PermissionDeniedError("Only the organization's administrator or an operator manages its API keys.")
    if row.revoked_at is not None:
        return row
    row.revoked_at = timezone.now()
    row.save(update_fields=["revoked_at"])
    if not ApiKey.objects.filter(service_user_id=row.service_user_id, revoked_at__isnull=True).exists():
        User.objects.filter(pk=row.service_user_id).update(is_active=False)
    api_key_revoked.send(sender=ApiKey, api_key=row, revoked_by=revoked_by)
    return row


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, rotated_by: User | None, grace: timedelta) -> tuple[ApiKey, str]:
    """A successor with the same scopes and service user; the old key expires after `grace` (0: now)."""
    row = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not _may_manage_keys(rotated_by, row.organization):
        raise PermissionDeniedError("Only the organization's administrator or an operator manages its API keys.")
    if row.revoked_at is not None or ApiKey.objects.filter(rotated_from=row).exists():
        raise ConflictError("This key is revoked or was already rotated; rotate its successor.", code="api_key_retired")
    successor, key = _key_create(
        template=ApiKey(
            organization=row.organization,
            service_user=row.service_user,
            name=row.name,
            scopes=list(row.scopes),
            read_only=row.read_only,
            expires_at=row.expires_at,
            rotated_from=row,
        ),
        issued_by=rotated_by,
    )
    old_expiry = timezone.now() + grace
    if row.expires_at is None or row.expires_at > old_expiry:
        row.expires_at = old_expiry
        row.save(update_fields=["expires_at"])
    return successor, key


def api_key_mark_used(*, api_key_id: int, at: datetime) -> None:
    """When a key was last used, for people deciding which key to retire (one UPDATE, no lock held)."""
    ApiKey.objects.filter(pk=api_key_id).update(last_used_at=at)
