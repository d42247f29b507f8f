"""Operator console for identity: people, organizations, roles (superusers only) and partner API keys."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from escrow_project.common.admin import ConsoleAdmin, ConsoleTabularInline, ReadOnlyAdmin, ReasonForm, object_action
from escrow_project.common.admin_masking import MaskedFieldsAdminMixin
from escrow_project.common.crypto.blind_index import blind_index
from identity import services
from identity.models import EMAIL_INDEX_PURPOSE, ApiKey, Membership, Organization, User
from identity.selectors import user_is_operator


class SuperuserOnlyRolesMixin:
    """Roles are privileges: only superusers change them, and only through the identity services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class MembershipInline(SuperuserOnlyRolesMixin, ConsoleTabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["organization"]


@admin.register(User)
class UserAdmin(MaskedFieldsAdminMixin, BaseUserAdmin, ConsoleAdmin):  # type: ignore[misc]
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = [MembershipInline]
    masked_fields = ("first_name", "last_name", "email")
    # Names and e-mail are encrypted: search by username, or by an exact e-mail through its blind index.
    search_fields = ("username",)
    ordering = ("username",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[User], search_term: str) -> Any:
        results, distinct = super().get_search_results(request, queryset, search_term)
        if "@" in search_term:
            results |= queryset.filter(email_index=blind_index(search_term.strip(), purpose=EMAIL_INDEX_PURPOSE))
        return results, distinct

    def can_reveal(self, request: HttpRequest, obj: Any) -> bool:
        return super().can_reveal(request, obj) and user_is_operator(request.user)


@admin.register(Organization)
class OrganizationAdmin(ConsoleAdmin):
    list_display = ["name", "kind", "slug", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id", "created_at"]


@admin.register(Membership)
class MembershipAdmin(SuperuserOnlyRolesMixin, ConsoleAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "organization__name"]
    autocomplete_fields = ["user", "organization"]

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:  # a role is granted or revoked, never edited in place
            services.membership_revoke(membership=Membership.objects.get(pk=obj.pk), revoked_by=_user(request))
        obj.pk = services.membership_grant(
            user=obj.user, organization=obj.organization, role=obj.role, granted_by=_user(request)
        ).pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_revoke(membership=obj, revoked_by=_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            services.membership_revoke(membership=membership, revoked_by=_user(request))


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Keys are issued through the API (the key is shown once, to the person who asked); the console
    sees them and can revoke one at once, for example when a partner reports a leak."""

    list_display = ["name", "organization", "prefix", "scopes", "read_only", "created_at", "expires_at", "revoked_at"]
    list_filter = ["read_only", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "organization__name"]
    object_actions = ["revoke"]

    @object_action(
        label="Revoke the key now",
        describe=lambda k: (
            f"Revoke the API key “{k.name}” (esk_{k.prefix}_…) of {k.organization} at once: every "
            "call with it is refused from now on; the partner must issue a new one."
        ),
        available=lambda k: k.revoked_at is None,
        danger=True,
    )
    def revoke(self, request: HttpRequest, api_key: ApiKey, form: ReasonForm) -> str:
        services.api_key_revoke(api_key=api_key, revoked_by=_user(request))
        return f"API key {api_key.name} revoked."


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ConsoleAdmin):  # type: ignore[misc]
    pass


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None
