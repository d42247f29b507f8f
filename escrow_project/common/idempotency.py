"""`Idempotency-Key` for POSTs: one effect per key, the first response replayed to every repeat.

The record is inserted in the same database transaction as the view's effect. A concurrent
duplicate's INSERT then blocks on the unique index until the first commits, fails, and replays
the stored response: one effect, identical responses, no check-then-insert race. A response that
is not a success is not stored (its effects are rolled back too), so the caller may retry with the
same key after fixing the cause.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from escrow_project.common.db import retry_lock_conflicts
from escrow_project.common.errors import DomainError, IdempotencyKeyReusedError
from escrow_project.common.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_REPLAYED_RESPONSE_HEADERS = ("Location",)

Handler = TypeVar("Handler", bound=Callable[..., Response])


class _NotStored(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def request_fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    data = request.data
    fields: dict[str, Any] = {}
    fields = dict(data.lists()) if hasattr(data, "lists") else {"": data}
    digest.update(json.dumps(fields, sort_keys=True, cls=JSONEncoder, default=str).encode())
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            digest.update(f"\nfile:{name}:{upload.name}:{upload.size}\n".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def _owner_of(request: Request) -> str:
    user = getattr(request, "user", None)
    return f"user:{user.pk}" if user is not None and user.is_authenticated else "anon"


def _replay(record: IdempotencyRecord) -> Response:
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(json.loads(record.response_body), status=record.response_status, headers=headers)


def idempotent(handler: Handler) -> Handler:
    """Decorate a DRF view method that creates or moves something."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not (1 <= len(key) <= 255) or not key.isprintable():
            raise DomainError("Idempotency-Key must be 1 to 255 printable characters.", code="invalid_idempotency_key")
        owner = _owner_of(request)
        fingerprint = request_fingerprint(request)

        def run() -> Response:
            try:
                with transaction.atomic():
                    try:
                        with transaction.atomic():
                            record = IdempotencyRecord.objects.create(owner=owner, key=key, fingerprint=fingerprint)
                    except IntegrityError:
                        existing = IdempotencyRecord.objects.get(owner=owner, key=key)
                        if existing.fingerprint != fingerprint:
                            raise IdempotencyKeyReusedError(
                                f"Idempotency-Key {key!r} was already used for a different request; "
                                "use a new key for a new request."
                            ) from None
                        return _replay(existing)
                    response = handler(view, request, *args, **kwargs)
                    if not 200 <= response.status_code < 300:
                        raise _NotStored(response)
                    record.response_status = response.status_code
                    record.response_body = json.dumps(response.data, cls=JSONEncoder)
                    record.response_headers = {
                        name: response[name] for name in _REPLAYED_RESPONSE_HEADERS if response.has_header(name)
                    }
                    record.save(update_fields=["response_status", "response_body", "response_headers"])
                    return response
            except _NotStored as not_stored:
                return not_stored.response

        # Two requests that lock the same shared accounts (payees, payouts in flight) can deadlock;
        # PostgreSQL rolls one back whole (its key record too), so it runs again instead of a 500.
        return retry_lock_conflicts(run, what="idempotent_request")

    wrapper.honours_idempotency_key = True  # type: ignore[attr-defined]  # read by the OpenAPI schema
    return cast(Handler, wrapper)


def idempotency_records_purge() -> int:
    """Delete records past their time to live; returns how many went."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
