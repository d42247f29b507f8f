"""Sign-in lockout (django-axes): the client address it counts by, and the API's refusal."""

from __future__ import annotations

from typing import Any


def client_address(request: Any) -> str | None:
    # The socket address as the web server saw it: the server applies forwarded headers only from
    # TRUSTED_PROXIES, so a caller cannot spread its attempts over invented addresses.
    meta = getattr(request, "META", {})
    return meta.get("REMOTE_ADDR") or None


def cooloff_minutes() -> int:
    from django.conf import settings

    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def lockout_response(request: Any, original_response: Any = None, credentials: Any = None) -> Any:
    """The page a locked-out sign-in form answers (429), saying why and for how long."""
    from django.shortcuts import render

    context = {"minutes": cooloff_minutes()}
    response = render(request, "identity/lockout.html", context, status=429)
    response["Retry-After"] = str(cooloff_minutes() * 60)
    return response
