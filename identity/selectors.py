"""Who may see what. Every scoped read goes through here, so no view can forget the check."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from escrow_project.common.crypto.blind_index import blind_index
from escrow_project.common.errors import NotFoundError
from identity.models import EMAIL_INDEX_PURPOSE, ApiKey, Membership, Organization, OrganizationKind, Role, User

# Roles with platform-wide reach count only when held in the platform operator's own organization:
# an "operator" membership in a partner's organization grants nothing.
PLATFORM_ROLES = frozenset({Role.OPERATOR, Role.AUDITOR})


def user_roles(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    rows = Membership.objects.filter(user=user).values_list("role", "organization__kind")
    return {role for role, kind in rows if role not in PLATFORM_ROLES or kind == OrganizationKind.PLATFORM_OPERATOR}


def user_is_operator(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return (
        bool(user.is_superuser)
        or Membership.objects.filter(
            user=user, role=Role.OPERATOR, organization__kind=OrganizationKind.PLATFORM_OPERATOR
        ).exists()
    )


def user_has_role(user: Any, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def organization_ids_for_user(user: Any) -> set[int]:
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(Membership.objects.filter(user=user).values_list("organization_id", flat=True))


def organization_list_for_user(*, user: Any) -> QuerySet[Organization]:
    """Operators see every organization; everyone else only their own."""
    if user_is_operator(user):
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user).distinct()


def organization_get_for_user(*, user: Any, public_id: Any) -> Organization:
    """404 for what the caller may not see: not even its existence leaks."""
    organization = organization_list_for_user(user=user).filter(public_id=public_id).first()
    if organization is None:
        raise NotFoundError("No such organization.")
    return organization


def user_find_by_email(*, email: str) -> User | None:
    """Exact (case-insensitive) e-mail match through the blind index: e-mail is stored encrypted."""
    if not email.strip():
        return None
    index = blind_index(email.strip(), purpose=EMAIL_INDEX_PURPOSE)
    return User.objects.filter(email_index=index).order_by("pk").first()


def _key_managed_org_ids(user: Any) -> QuerySet[Membership, int] | None:
    """None for operators (every organization), else the organizations the user administers."""
    if user_is_operator(user):
        return None
    return Membership.objects.filter(user=user, role=Role.ORG_ADMIN).values_list("organization_id", flat=True)


def api_key_list_for_user(*, user: Any, organization: Organization) -> QuerySet[ApiKey]:
    """The organization's keys, for its administrator or an operator; nobody else learns they exist."""
    managed = _key_managed_org_ids(user)
    if managed is not None and organization.pk not in set(managed):
        raise NotFoundError("No such organization.")
    return ApiKey.objects.filter(organization=organization).order_by("-created_at", "-id")


def api_key_get_for_user(*, user: Any, public_id: Any) -> ApiKey:
    keys = ApiKey.objects.select_related("organization", "service_user").filter(public_id=public_id)
    managed = _key_managed_org_ids(user)
    if managed is not None:
        keys = keys.filter(organization_id__in=managed)
    api_key = keys.first()
    if api_key is None:
        raise NotFoundError("No such API key.")
    return api_key
