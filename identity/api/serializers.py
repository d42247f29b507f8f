from __future__ import annotations

from typing import Any

from rest_framework import serializers

from identity.models import Membership, Organization, OrganizationKind, User


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "kind", "slug", "is_active", "client_of", "created_at"]
        read_only_fields = ["is_active", "created_at"]

    client_of: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="public_id", read_only=True)


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
