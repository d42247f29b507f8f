from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.idempotency import idempotent
from identity import selectors, services
from identity.api.serializers import MeSerializer, OrganizationCreateSerializer, OrganizationSerializer
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
