"""One-click unsubscribe tokens (RFC 8058): who, which kind, which channel, signed and dated.

The token is the only credential of the unsubscribe URL (a mail client POSTs to it without a
session), so it is signed with SECRET_KEY under its own salt and expires
(NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS): a forged, altered or old link changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

from escrow_project.common.errors import DomainError
from notifications.kinds import EMAIL, KINDS, kind_essential

_SALT = "notifications.unsubscribe.v1"


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    kind: str
    channel: str


def unsubscribe_token(*, user_id: int, kind: str, channel: str = EMAIL) -> str:
    """The signed token of "stop `kind` on `channel` for this user"; "" for an essential kind."""
    if kind_essential(kind, channel):
        return ""
    return signing.dumps({"u": user_id, "k": kind, "c": channel}, salt=_SALT)


def unsubscribe_token_read(token: str) -> Unsubscribe:
    """What a token asks, or a DomainError when it is forged, altered, expired or names no kind."""
    max_age = timedelta(days=settings.NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise DomainError(
            "This unsubscribe link has expired. Sign in to change your notification preferences.",
            code="unsubscribe_link_expired",
        ) from None
    except signing.BadSignature:
        raise DomainError("This unsubscribe link is not valid.", code="unsubscribe_link_invalid") from None
    if not isinstance(data, dict) or data.get("k") not in KINDS or not isinstance(data.get("u"), int):
        raise DomainError("This unsubscribe link is not valid.", code="unsubscribe_link_invalid")
    return Unsubscribe(user_id=data["u"], kind=data["k"], channel=str(data.get("c", EMAIL)))
