"""Partner API keys as a DRF authentication class, next to JWT (for people) and sessions (for pages)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS

from identity.api_keys import key_digest, key_prefix
from identity.models import ApiKey

# last_used_at is for people deciding which key to retire: minute precision is plenty, and a
# write on every request would serialise a busy partner's calls on one row.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer esk_<prefix>_<secret>`; any other bearer token is left to JWT."""

    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        prefix = key_prefix(key)
        if prefix is None:
            return None
        api_key = ApiKey.objects.select_related("service_user").filter(prefix=prefix).first()
        now = timezone.now()
        if (
            api_key is None
            or not hmac.compare_digest(api_key.key_digest, key_digest(key))
            or api_key.revoked_at is not None
            or (api_key.expires_at is not None and api_key.expires_at <= now)
            or not api_key.service_user.is_active
        ):
            raise exceptions.AuthenticationFailed("The API key is not valid, expired or revoked.")
        if api_key.read_only and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied("This API key is read-only.")
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_PRECISION:
            # Imported here: DRF loads this class while the kernel's error module is still importing.
            from identity.services import api_key_mark_used

            api_key_mark_used(api_key_id=api_key.pk, at=now)
        return api_key.service_user, api_key

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes partner API keys (drf-spectacular finds it by target class)."""

    target_class = "identity.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "esk_<prefix>_<secret>",
            "description": "A partner API key issued at POST /api/v1/organizations/{id}/api-keys/.",
        }
