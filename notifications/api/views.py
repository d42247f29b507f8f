from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.idempotency import idempotent
from notifications import selectors, services
from notifications.api.serializers import (
    ContactSerializer,
    NotificationSerializer,
    PreferenceSerializer,
    RotatedSecretSerializer,
    RotateSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEndpointWithSecretSerializer,
)
from notifications.models import Notification, NotificationPreference, WebhookEndpoint

_FILTERS = [
    OpenApiParameter("channel", str, description="email, sms, webhook or live"),
    OpenApiParameter("kind", str),
    OpenApiParameter("status", str, description="pending, sending, sent, failed or skipped"),
]


class NotificationListView(generics.ListAPIView[Notification]):
    """The signed-in party's own notifications."""

    serializer_class = NotificationSerializer

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return selectors.notification_list_for_user(
            user=self.request.user, channel=params.get("channel"), kind=params.get("kind"), status=params.get("status")
        )

    @extend_schema(parameters=_FILTERS, summary="My notifications")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class NotificationReadView(APIView):
    @extend_schema(request=None, responses=NotificationSerializer, summary="Mark one of my notifications read")
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        row = selectors.notification_get_for_user(user=request.user, public_id=public_id)
        row = services.notification_mark_read(notification_id=row.pk)
        return Response(NotificationSerializer(row).data)


class PreferenceListView(generics.ListAPIView[NotificationPreference]):
    """My preferences: which kinds (empty: all) on which channel, and e-mail digests."""

    serializer_class = PreferenceSerializer
    pagination_class = None

    def get_queryset(self) -> Any:
        return selectors.preference_list_for_user(user=self.request.user)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer, summary="Set one preference")
    @idempotent
    def post(self, request: Request) -> Response:
        payload = PreferenceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.preference_set(user_id=request.user.pk, **payload.validated_data)
        return Response(PreferenceSerializer(row).data)


class ContactView(APIView):
    @extend_schema(request=ContactSerializer, responses=ContactSerializer, summary="Set my phone number for SMS")
    def put(self, request: Request) -> Response:
        payload = ContactSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        contact = services.contact_point_set(user_id=cast(int, request.user.pk), phone=payload.validated_data["phone"])
        return Response({"phone": contact.phone})


class WebhookEndpointListView(generics.ListAPIView[WebhookEndpoint]):
    """Webhook endpoints of my organizations."""

    serializer_class = WebhookEndpointSerializer

    def get_queryset(self) -> Any:
        return selectors.webhook_endpoint_list_for_manager(user=self.request.user).prefetch_related("secrets")

    # Not @idempotent on purpose: the response carries the signing secret, and idempotency
    # records keep responses in plain text. See docs/decisions/0302-notifications-delivery.md.
    @extend_schema(
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        summary="Register a webhook endpoint (the secret is shown once)",
    )
    def post(self, request: Request) -> Response:
        payload = WebhookEndpointCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        organization = selectors.webhook_organization_get_for_manager(
            user=request.user, public_id=data.get("organization")
        )
        endpoint, secret = services.webhook_endpoint_register(
            organization_id=organization.pk, url=data["url"], description=data["description"], kinds=data["kinds"]
        )
        body = dict(WebhookEndpointSerializer(endpoint).data)
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(APIView):
    @extend_schema(responses=WebhookEndpointSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_manager(user=request.user, public_id=public_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def patch(self, request: Request, public_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_manager(user=request.user, public_id=public_id)
        payload = WebhookEndpointUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint_id=endpoint.pk, **payload.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None}, summary="Disable the endpoint")
    def delete(self, request: Request, public_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_manager(user=request.user, public_id=public_id)
        services.webhook_endpoint_disable(endpoint_id=endpoint.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretRotateView(APIView):
    # Not @idempotent: the response is a secret (see WebhookEndpointListView.post).
    @extend_schema(
        request=RotateSerializer,
        responses=RotatedSecretSerializer,
        summary="Rotate the signing secret; the old one keeps signing during the grace period",
    )
    def post(self, request: Request, public_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_manager(user=request.user, public_id=public_id)
        payload = RotateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        secret = services.webhook_secret_rotate(
            endpoint_id=endpoint.pk, grace_hours=payload.validated_data.get("grace_hours")
        )
        return Response({"secret": secret})


class WebhookEndpointTestView(APIView):
    # 202, not the outcome: the event goes through the outbox after commit (never an HTTP call
    # inside this request's transaction); follow it on deliveries/.
    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        summary="Queue a signed test event (follow it on deliveries/)",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_manager(user=request.user, public_id=public_id)
        row = services.webhook_endpoint_test(endpoint_id=endpoint.pk)
        return Response(WebhookDeliverySerializer(row).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(generics.ListAPIView[Notification]):
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self) -> Any:
        endpoint = selectors.webhook_endpoint_get_for_manager(
            user=self.request.user, public_id=self.kwargs["public_id"]
        )
        rows = selectors.webhook_delivery_list(endpoint=endpoint, status=self.request.query_params.get("status"))
        return rows.select_related("webhook_endpoint").prefetch_related("attempt_log")

    @extend_schema(parameters=[_FILTERS[2]], summary="Deliveries to this endpoint, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class WebhookRedeliverView(APIView):
    @extend_schema(request=None, responses={202: WebhookDeliverySerializer}, summary="Send a delivery again")
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        row = selectors.webhook_delivery_get_for_manager(user=request.user, public_id=public_id)
        row = services.notification_retry(notification_id=row.pk)
        return Response(WebhookDeliverySerializer(row).data, status=status.HTTP_202_ACCEPTED)
