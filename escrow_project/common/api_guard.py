"""The API's outer guard: every /api/ answer is problem JSON, whatever arrives and whatever breaks.

- NUL characters in the path or the query string are refused (400) before any view runs: PostgreSQL
  cannot store or compare them, so a filter like `?reference=%00` would otherwise end as a 500.
- Bodies over the limit are refused with a 413 problem on the declared Content-Length, before the
  body is read (and, under ASGI, while it is still arriving: `limit_asgi_body`). A view that takes
  bigger files names its limit's setting in `max_request_bytes_setting` (batch uploads do).
- Exceptions that escape a view become problem JSON, also with DEBUG on (Django's debug pages print
  settings and every URL pattern); they are still logged and signalled like Django's own 500s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.log import log_response

from escrow_project.common.errors import PROBLEM_CONTENT_TYPE, api_not_found, api_server_error, problem
from escrow_project.common.input_guard import first_refused_text

API_PREFIX = "/api/"
MULTIPART_ENVELOPE_BYTES = 65_536  # boundaries and part headers around an uploaded file


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def body_limit_for(path: str, content_type: str) -> int:
    """The largest body this route accepts: for files the view's `max_request_bytes_setting` (the
    name of a setting, read per request) or UPLOAD_MAX_BYTES, otherwise DATA_UPLOAD_MAX_MEMORY_SIZE."""
    if not _is_multipart(content_type):
        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    view_class = getattr(match.func, "cls", None) if match is not None else None
    name = getattr(view_class, "max_request_bytes_setting", None) or "UPLOAD_MAX_BYTES"
    return int(getattr(settings, name)) + MULTIPART_ENVELOPE_BYTES


def _is_multipart(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "multipart/form-data"


def too_large_body(limit: int, request_id: str, *, content_type: str = "") -> dict[str, Any]:
    # A file upload keeps the code the upload validators use (docs/errors.md).
    code = "upload_too_large" if _is_multipart(content_type) else "request_too_large"
    return problem(
        status=413,
        code=code,
        title="The request body is too large",
        detail=f"The body is larger than the limit of {limit} bytes for this endpoint.",
        request_id=request_id,
    )


def _problem(request: HttpRequest, *, status: int, code: str, title: str, detail: str) -> JsonResponse:
    body = problem(
        status=status, code=code, title=title, detail=detail, request_id=str(request.META.get("HTTP_X_REQUEST_ID", ""))
    )
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def _declared_length(value: str | None) -> int | None:
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    return int(value) if len(value) <= 18 else 10**18  # past any limit; int() of thousands of digits fails


class ApiGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path_info):
            return self.get_response(request)
        refusal = self._refuse_early(request)
        return refusal if refusal is not None else self.get_response(request)

    def _refuse_early(self, request: HttpRequest) -> HttpResponse | None:
        texts = [request.path_info, *request.GET.keys()]
        texts.extend(value for _, values in request.GET.lists() for value in values)
        reason = first_refused_text(texts)
        if reason:
            return _problem(
                request,
                status=400,
                code="malformed_request",
                title="The request could not be parsed",
                detail=f"The path or query string {reason}.",
            )
        declared = _declared_length(request.META.get("CONTENT_LENGTH"))
        if declared:
            content_type = str(request.META.get("CONTENT_TYPE", ""))
            limit = body_limit_for(request.path_info, content_type)
            if declared > limit:
                body = too_large_body(limit, str(request.META.get("HTTP_X_REQUEST_ID", "")), content_type=content_type)
                return JsonResponse(body, status=413, content_type=PROBLEM_CONTENT_TYPE)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path_info):
            return None
        if isinstance(exception, Http404):
            return api_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return _problem(request, status=403, code="permission_denied", title="You may not do this", detail="")
        if isinstance(exception, RequestDataTooBig):
            limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            body = too_large_body(limit, str(request.META.get("HTTP_X_REQUEST_ID", "")))
            return JsonResponse(body, status=413, content_type=PROBLEM_CONTENT_TYPE)
        if isinstance(exception, SuspiciousOperation):
            return _problem(
                request,
                status=400,
                code="malformed_request",
                title="The request could not be parsed",
                detail="The request was refused as malformed.",
            )
        # A bug. Logged and signalled exactly as Django does for its own 500 page.
        signals.got_request_exception.send(sender=None, request=request)
        response = api_server_error(request)
        log_response(
            "%s: %s", "Internal Server Error", request.path, response=response, request=request, exception=exception
        )
        return response


ASGIApp = Callable[..., Awaitable[None]]


def limit_asgi_body(app: ASGIApp) -> ASGIApp:
    """Refuse oversized /api/ bodies while they arrive: Django's ASGI handler reads a whole body
    (to memory or a temp file) before any middleware runs, so the check must sit in front of it."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or not is_api_path(str(scope.get("path", ""))):
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        content_type = headers.get("content-type", "")
        limit = body_limit_for(str(scope["path"]), content_type)
        declared = _declared_length(headers.get("content-length"))
        if declared is not None and declared > limit:
            await _send_too_large(send, limit, content_type)
            return
        received = 0
        refused = False

        async def counting_receive() -> Any:
            nonlocal received, refused
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django ends the request quietly on a disconnect; the 413 is sent below.
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await app(scope, counting_receive, send)
        if refused:
            await _send_too_large(send, limit, content_type)

    return guarded


async def _send_too_large(send: Any, limit: int, content_type: str) -> None:
    request_id = str(uuid.uuid4())
    payload = json.dumps(too_large_body(limit, request_id, content_type=content_type)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
