from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.idempotency import idempotent
from identity import selectors, services
from identity.api.serializers import (
    ApiKeyCreateSerializer,
    ApiKeyIssuedSerializer,
    ApiKeyRotateSerializer,
    ApiKeySerializer,
    MeSerializer,
    OrganizationCreateSerializer,
    OrganizationSerializer,
)
from identity.models import Organization, User
from identity.permissions import IsOperator


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The signed-in user and their roles")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(cast(User, request.user)).data)


class OrganizationListCreateView(generics.ListAPIView[Organization]):
    serializer_class = OrganizationSerializer

    def get_queryset(self) -> Any:
        return selectors.organization_list_for_user(user=self.request.user).order_by("name", "id")

    def get_permissions(self) -> Any:
        if self.request.method == "POST":
            return [IsOperator()]
        return super().get_permissions()

    @extend_schema(request=OrganizationCreateSerializer, responses={201: OrganizationSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        payload = OrganizationCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = services.organization_create(**payload.validated_data)
        return Response(OrganizationSerializer(organization).data, status=status.HTTP_201_CREATED)


class OrganizationDetailView(APIView):
    @extend_schema(responses=OrganizationSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        organization = selectors.organization_get_for_user(user=request.user, public_id=public_id)
        return Response(OrganizationSerializer(organization).data)


def _user_or_none(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


class ApiKeyListCreateView(APIView):
    """An organization's API keys: its administrator (or an operator) lists and issues them."""

    @extend_schema(responses=ApiKeySerializer(many=True), summary="List an organization's API keys")
    def get(self, request: Request, public_id: str) -> Response:
        organization = selectors.organization_get_for_user(user=request.user, public_id=public_id)
        keys = selectors.api_key_list_for_user(user=request.user, organization=organization)
        return Response(ApiKeySerializer(keys, many=True).data)

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyIssuedSerializer},
        summary="Issue an API key (the key is in this response only)",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        organization = selectors.organization_get_for_user(user=request.user, public_id=public_id)
        selectors.api_key_list_for_user(user=request.user, organization=organization)  # 404 unless manager
        payload = ApiKeyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        api_key, key = services.api_key_issue(
            organization=organization, issued_by=_user_or_none(request), **payload.validated_data
        )
        return Response(ApiKeyIssuedSerializer(api_key, context={"key": key}).data, status=status.HTTP_201_CREATED)


class ApiKeyRevokeView(APIView):
    @extend_schema(request=None, responses=ApiKeySerializer, summary="Revoke an API key at once")
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        api_key = selectors.api_key_get_for_user(user=request.user, public_id=public_id)
        return Response(
            ApiKeySerializer(services.api_key_revoke(api_key=api_key, revoked_by=_user_or_none(request))).data
        )


class ApiKeyRotateView(APIView):
    @extend_schema(
        request=ApiKeyRotateSerializer,
        responses={201: ApiKeyIssuedSerializer},
        summary="Rotate an API key: a successor now, the old key stops after the grace period",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        api_key = selectors.api_key_get_for_user(user=request.user, public_id=public_id)
        payload = ApiKeyRotateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        successor, key = services.api_key_rotate(
            api_key=api_key,
            rotated_by=_user_or_none(request),
            grace=timedelta(hours=payload.validated_data["grace_hours"]),
        )
        return Response(ApiKeyIssuedSerializer(successor, context={"key": key}).data, status=status.HTTP_201_CREATED)
