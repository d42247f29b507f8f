from django.urls import path
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from escrow_project.common.throttling import SIGN_IN_THROTTLES
from identity.api import views
from identity.api.serializers import LockedTokenRefreshSerializer, LockoutAwareTokenObtainPairSerializer

urlpatterns = [
    path(
        "auth/token/",
        TokenObtainPairView.as_view(
            throttle_classes=SIGN_IN_THROTTLES, serializer_class=LockoutAwareTokenObtainPairSerializer
        ),
        name="token-obtain",
    ),
    path(
        "auth/token/refresh/",
        TokenRefreshView.as_view(throttle_classes=SIGN_IN_THROTTLES, serializer_class=LockedTokenRefreshSerializer),
        name="token-refresh",
    ),
    path("auth/token/revoke/", TokenBlacklistView.as_view(), name="token-revoke"),
    path("me/", views.MeView.as_view(), name="me"),
    path("organizations/", views.OrganizationListCreateView.as_view(), name="organization-list"),
    path("organizations/<uuid:public_id>/", views.OrganizationDetailView.as_view(), name="organization-detail"),
    path("organizations/<uuid:public_id>/api-keys/", views.ApiKeyListCreateView.as_view(), name="api-key-list"),
    path("api-keys/<uuid:public_id>/revoke/", views.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
    path("api-keys/<uuid:public_id>/rotate/", views.ApiKeyRotateView.as_view(), name="api-key-rotate"),
]
