"""Every request carries an id: the caller's X-Request-ID when it is sane, a new UUID otherwise."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# A caller-supplied id ends up in logs; refuse anything that could forge log lines or bloat them.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


class RequestIdMiddleware:
    """Normalises X-Request-ID before django-structlog binds it, and echoes it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else str(uuid.uuid4())
        request.META["HTTP_X_REQUEST_ID"] = request_id
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
