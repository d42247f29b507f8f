"""Response headers Django does not set itself: a Content-Security-Policy for HTML pages, and
`Cache-Control: no-store` on API responses, which carry personal data no shared cache should keep."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if request.path.startswith("/admin/"):
            policy = getattr(settings, "CONTENT_SECURITY_POLICY_CONSOLE", policy)
        if policy and content_type.startswith("text/html") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path.startswith("/api/v1/"):
            response.setdefault("Cache-Control", "no-store")
        return response
