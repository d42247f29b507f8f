"""Verifying webhooks partners send us: one HMAC scheme for agents (verifications) and insurers
(endorsements).

Both sign `<unix timestamp>.<raw body>` with HMAC-SHA256 and send the hex digest with a scheme
prefix (`v1=` for insurers, `sha256=` for agents) in one header, several during a secret rotation.
Our outbound webhooks are Standard Webhooks (notifications.signing); the inbound ones predate that
and partners already sign this way, so the scheme stays and lives here once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

from escrow_project.common.input_guard import signatures_in, unix_timestamp_or_none


def signature_hex(secret: str, timestamp: str, raw_body: bytes) -> str:
    """HMAC-SHA256(secret, "<timestamp>.<raw body>") in hex: what partners compute too."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256).hexdigest()


def timestamp_fresh(timestamp: str, *, tolerance_seconds: float) -> bool:
    """The header is a Unix time (parsed defensively: unauthenticated input) within the tolerance."""
    unix_time = unix_timestamp_or_none(timestamp)
    return unix_time is not None and abs(time.time() - unix_time) <= tolerance_seconds


def signature_matches(
    *, secrets: Iterable[str], timestamp: str, raw_body: bytes, header: str, scheme: str
) -> bool | None:
    """True when a `<scheme>=<hex>` signature in the header is one of the secrets' digests; None
    when the header holds no signature of that scheme at all (callers may name that apart)."""
    offered = signatures_in(header, scheme=scheme)
    if not offered:
        return None
    matched = False
    for secret in secrets:
        expected = signature_hex(secret, timestamp.strip(), raw_body)
        for candidate in offered:
            # Keep comparing after a match: the time taken must not depend on which one matched.
            matched |= hmac.compare_digest(expected, candidate)
    return matched
