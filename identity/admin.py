from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from escrow_project.common.admin import ReadOnlyAdmin
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


class MembershipInline(SuperuserOnlyRolesMixin, admin.TabularInline[Membership, User]):
    model = Membership
    extra = 0
    autocomplete_fields = ["organization"]


@admin.register(User)
class UserAdmin(MaskedFieldsAdminMixin, BaseUserAdmin):
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
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["name", "kind", "slug", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id", "created_at"]


@admin.register(Membership)
class MembershipAdmin(SuperuserOnlyRolesMixin, admin.ModelAdmin[Membership]):
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
    actions = ["revoke"]

    @admin.action(description="Revoke the selected API keys now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key, revoked_by=_user(request))
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None
