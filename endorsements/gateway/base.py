"""The insurer gateway interface.

A gateway delivers one dispatch (a window's worth of endorsements for one insurer) and reports
whether the insurer took it. Answers arrive later through callbacks (REST webhooks), a polled
response file (SFTP) or a reply message (SOAP): every adapter turns them into the same insurer
events, which `services/callbacks.py` applies. Every exchange is recorded (GatewayExchange).
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from escrow_project.common import egress


@dataclass(frozen=True)
class GatewayItem:
    tracking_id: str
    kind: str
    direction: str
    amount: str
    currency: str
    policy_number: str
    member_id: str
    relationship: str
    plan: str
    new_plan: str
    effective_date: str


@dataclass(frozen=True)
class GatewayResult:
    accepted: bool
    # A transient failure (timeout, 5xx, 429) is retried with backoff; a permanent one is not.
    transient: bool = False
    reference: str = ""
    error: str = ""
    # The insurer refused the content itself (HTTP 400/422: sending it again cannot succeed). When
    # it names items, only those fail and the rest go out in the next window; otherwise all fail.
    invalid: bool = False
    item_errors: dict[str, str] = field(default_factory=dict)


class InsurerGateway(abc.ABC):
    protocol: str = ""

    @abc.abstractmethod
    def submit(
        self, *, idempotency_key: str, items: list[GatewayItem], callback_url: str, dispatch_id: int | None
    ) -> GatewayResult:
        """Deliver the items; the same idempotency key must never create a second submission."""


def insurer_address(host: str, port: int) -> str:
    """The one address of an insurer's host to connect to, through the SSRF-safe egress
    (escrow_project.common.egress): resolved once and refused (EgressRefused) unless every address
    is public; ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE allows a sandbox insurer on this machine."""
    return egress.checked_address(host, port, allow_private=settings.ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE)


def insurer_session(url: str) -> requests.Session:
    """A session whose every connection goes to the checked address of `url`'s host (REST, SOAP)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = insurer_address(parts.hostname or "", port)
    return egress.pinned_session(pinned_address=address, allow_private=settings.ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE)


def refused_host_error(exc: egress.EgressRefused) -> str:
    """A host that resolves into our own network is a configuration error, not an outage."""
    return f"the insurer's host is not a public address: {exc}"[:2000]


def exchange_record(
    *,
    insurer_id: int,
    dispatch_id: int | None,
    operation: str,
    started: float,
    direction: str = "outbound",
    idempotency_key: str = "",
    url: str = "",
    request_body: str = "",
    response_status: int | None = None,
    response_body: str = "",
    error: str = "",
) -> Any:
    """Store one exchange with an insurer, whatever the protocol (bodies are encrypted at rest)."""
    from endorsements.models import GatewayExchange

    return GatewayExchange.objects.create(
        insurer_id=insurer_id,
        dispatch_id=dispatch_id,
        direction=direction,
        operation=operation,
        idempotency_key=idempotency_key,
        url=url[:500],
        request_body=request_body,
        response_status=response_status,
        response_body=response_body[:100_000],
        error=error[:2000],
        duration_ms=int((time.perf_counter() - started) * 1000),
    )
