"""The shape of a partner API key, shared by the services that issue keys and the authenticator that reads them."""

from __future__ import annotations

import hashlib
import secrets

KEY_SCHEME = "esk"
PREFIX_BYTES = 6  # 12 hex characters: the public, searchable half shown in lists and logs
SECRET_BYTES = 32


def key_generate() -> tuple[str, str]:
    """A new (prefix, full key)."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str | None:
    """The prefix of something shaped like one of our keys, else None (so other bearer tokens pass by)."""
    scheme, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    return prefix
