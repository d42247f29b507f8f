"""One error family for services and one wire shape for every API error (RFC 9457).

Services raise `DomainError` subclasses; the DRF exception handler below turns those, DRF's own
exceptions and Django's into `application/problem+json` with `type`, `title`, `status`, `detail`,
`code`, per-field `errors` and the `request_id`. docs/errors.md lists the codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from escrow_project.common.error_codes import is_registered
from escrow_project.common.redaction import scrub_text, submitted_values

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:escrow-platform:problem:"

logger = structlog.get_logger(__name__)


class DomainError(Exception):
    """A business rule refused the request; nothing was changed."""

    status: int = 400
    code: str = "domain_error"
    title: str = "The request breaks a business rule"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.errors = errors or []


class NotFoundError(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class ConflictError(DomainError):
    status = 409
    code = "conflict"
    title = "The resource is not in a state that allows this"


class InvalidTransitionError(ConflictError):
    code = "invalid_transition"
    title = "This step is not allowed in the current state"


class PermissionDeniedError(DomainError):
    status = 403
    code = "permission_denied"
    title = "You may not do this"


class UnprocessableError(DomainError):
    status = 422
    code = "unprocessable"
    title = "The request is well-formed but cannot be processed"


class IdempotencyKeyReusedError(UnprocessableError):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"


def problem(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str = "",
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    if getattr(settings, "ERROR_CODES_STRICT", False) and not is_registered(code):
        # Tests run strict: a code that reaches a client must be in the registry (and so in docs/errors.md).
        raise LookupError(f"error code {code!r} is not registered: add it to its app's errors.py")
    return {
        "type": f"{PROBLEM_TYPE_PREFIX}{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
        "request_id": request_id,
    }


def flatten_field_errors(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """DRF's nested error dict/list becomes a flat list naming each field by a dotted path."""
    flat: list[dict[str, Any]] = []
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            flat.extend(flatten_field_errors(value, path))
    elif isinstance(detail, Sequence) and not isinstance(detail, str):
        if all(isinstance(item, str) for item in detail):
            for item in detail:
                flat.append(_field_error(prefix, item))
        else:
            for index, item in enumerate(detail):
                if item:
                    flat.extend(flatten_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat.append(_field_error(prefix, detail))
    return flat


def _field_error(field: str, message: Any) -> dict[str, Any]:
    return {
        "field": field or None,
        "code": str(getattr(message, "code", "invalid")),
        "message": str(message),
    }


_DRF_CODES: dict[type[drf_exceptions.APIException], tuple[str, str]] = {
    drf_exceptions.ValidationError: ("validation_error", "The request is invalid"),
    drf_exceptions.ParseError: ("malformed_request", "The request body could not be parsed"),
    drf_exceptions.NotAuthenticated: ("not_authenticated", "Authentication is required"),
    drf_exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    drf_exceptions.PermissionDenied: ("permission_denied", "You may not do this"),
    drf_exceptions.NotFound: ("not_found", "Not found"),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    drf_exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    drf_exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    drf_exceptions.Throttled: ("rate_limited", "Too many requests"),
}


def _request_id_from_context(context: Mapping[str, Any]) -> str:
    request = context.get("request")
    return str(request.META.get("HTTP_X_REQUEST_ID", "")) if request is not None else ""


def _submitted(context: Mapping[str, Any]) -> list[str]:
    request = context.get("request")
    if request is None:
        return []
    values = submitted_values(getattr(request, "query_params", None))
    try:
        values.extend(submitted_values(request.data))
    except Exception:  # noqa: BLE001 - an unparsable body (the very error being reported) has nothing to echo
        values.extend(submitted_values(getattr(request, "_full_data", None)))
    return values


def _scrub(body: dict[str, Any], submitted: list[str]) -> dict[str, Any]:
    """Error bodies never echo what was submitted: DRF's and Django's messages sometimes quote it."""
    body["detail"] = scrub_text(str(body["detail"]), submitted)
    body["errors"] = [{**error, "message": scrub_text(str(error["message"]), submitted)} for error in body["errors"]]
    return body


def problem_response(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, status=body["status"], headers=dict(headers or {}), content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every error leaves as problem details."""
    request_id = _request_id_from_context(context)
    headers: dict[str, str] = {}

    if isinstance(exc, DomainError):
        set_rollback()
        logger.info("domain_error", code=exc.code, status=exc.status)
        body = problem(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            request_id=request_id,
            errors=exc.errors,
        )
        return problem_response(_scrub(body, _submitted(context)))

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )

    if not isinstance(exc, drf_exceptions.APIException):
        return None  # a bug: Django's 500 handler below answers, and the error is logged there

    set_rollback()
    code, title = next(
        ((c, t) for klass, (c, t) in _DRF_CODES.items() if isinstance(exc, klass)),
        (str(exc.default_code), "Request failed"),
    )
    if isinstance(exc, drf_exceptions.ValidationError):
        errors = flatten_field_errors(exc.detail)
        fields = sorted({e["field"] for e in errors if e["field"]})
        detail = f"Invalid fields: {', '.join(fields)}." if fields else "; ".join(e["message"] for e in errors)
    else:
        errors = []
        detail = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else title
    wait = getattr(exc, "wait", None)
    if isinstance(exc, drf_exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(int(wait) + 1)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    body = problem(status=exc.status_code, code=code, title=title, detail=detail, request_id=request_id, errors=errors)
    return problem_response(_scrub(body, _submitted(context)), headers)


def _django_problem(request: HttpRequest, *, status: int, code: str, title: str, detail: str) -> JsonResponse:
    body = problem(
        status=status,
        code=code,
        title=title,
        detail=detail,
        request_id=str(request.META.get("HTTP_X_REQUEST_ID", "")),
    )
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, status=404, code="not_found", title="Not found", detail="No such endpoint.")


def api_server_error(request: HttpRequest) -> JsonResponse:
    return _django_problem(
        request,
        status=500,
        code="internal_error",
        title="Internal error",
        detail="An unexpected error occurred; quote the request_id to support. Nothing was changed.",
    )
