from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from escrow_project.common.errors import DomainError
from identity.lockout import cooloff_minutes
from identity.models import ApiKey, Membership, Organization, OrganizationKind, User


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "kind", "slug", "is_active", "client_of", "created_at"]
        read_only_fields = ["is_active", "created_at"]

    client_of: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )


class OrganizationCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=OrganizationKind.choices)
    slug = serializers.SlugField(max_length=80, required=False)
    client_of = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Organization.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="for a household: the escrow company (tenant) it is a client of",
    )


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    organization = OrganizationSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["organization", "role"]


class MeSerializer(serializers.ModelSerializer[User]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    memberships = MembershipSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "memberships"]


class LockedTokenRefreshSerializer(TokenRefreshSerializer):
    """Rotation with the outstanding token's row locked: of N concurrent refreshes of one token,
    exactly one is handed a new pair; the others wait, then find the token blacklisted (401).

    simplejwt checks the blacklist and blacklists in separate statements, so without the lock
    every request that checked before the first one blacklisted also rotated.
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        token = RefreshToken(attrs["refresh"])  # signature, expiry, audience and the blacklist, unlocked
        with transaction.atomic():
            outstanding, _ = OutstandingToken.objects.get_or_create(
                jti=token[jwt_settings.JTI_CLAIM],
                defaults={
                    "token": str(token),
                    "created_at": token.current_time,
                    "expires_at": datetime_from_epoch(token["exp"]),
                },
            )
            OutstandingToken.objects.select_for_update().filter(pk=outstanding.pk).get()
            # Checked again under the lock (the blacklist row of a winner is committed by now).
            return super().validate(attrs)


class LockoutAwareTokenObtainPairSerializer(TokenObtainPairSerializer):
    """Sign-in for API clients, under the same lockout as the HTML forms (identity.lockout)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        request = self.context.get("request")
        try:
            return super().validate(attrs)
        except AuthenticationFailed:
            # django-axes marks the request; Django's authenticate() swallows its PermissionDenied.
            if getattr(request, "axes_locked_out", False):
                raise DomainError(
                    f"Too many unsuccessful sign-in attempts for this account from this address; "
                    f"sign-in is paused for {cooloff_minutes()} minutes.",
                    code="sign_in_locked",
                    status=429,
                ) from None
            raise


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    organization = serializers.UUIDField(source="organization.public_id", read_only=True)
    hint = serializers.SerializerMethodField(help_text="the key's public start, to tell keys apart")
    status = serializers.SerializerMethodField()
    rotated_from: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "organization",
            "name",
            "hint",
            "scopes",
            "read_only",
            "status",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "rotated_from",
        ]
        read_only_fields = fields

    def get_hint(self, api_key: ApiKey) -> str:
        return f"esk_{api_key.prefix}_…"

    def get_status(self, api_key: ApiKey) -> str:
        if api_key.revoked_at is not None:
            return "revoked"
        if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
            return "expired"
        return "active"


class ApiKeyIssuedSerializer(ApiKeySerializer):
    key = serializers.SerializerMethodField(help_text="the key itself: shown in this response only, never again")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields

    def get_key(self, api_key: ApiKey) -> str:
        return str(self.context["key"])


class ApiKeyCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1, max_length=10)
    read_only = serializers.BooleanField(default=False)  # type: ignore[assignment]  # a field named like Field.read_only
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyRotateSerializer(serializers.Serializer[None]):
    grace_hours = serializers.IntegerField(
        min_value=0, max_value=720, default=24, help_text="how long the old key keeps working (0: stops now)"
    )
