"""The Prometheus endpoint, visible only to scrapers: payout outcomes, invariant state and volumes
are operational intelligence, not public information."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django_prometheus.exports import ExportToDjangoView


def _bearer_token_matches(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    supplied = request.headers.get("Authorization", "")
    return bool(expected) and hmac.compare_digest(supplied.encode(), f"Bearer {expected}".encode())


def metrics_allowed(request: HttpRequest) -> bool:
    # REMOTE_ADDR, never X-Forwarded-For: a caller writes that header itself.
    return _bearer_token_matches(request) or request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404  # 404, not 403: do not confirm the endpoint exists
    return ExportToDjangoView(request)
