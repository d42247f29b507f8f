"""Where encryption keys come from, behind one small interface.

The default provider reads keys from the environment: FIELD_ENCRYPTION_KEYS is a comma-separated
list of `<key id>:<urlsafe base64 of 32 bytes>`, the first being the one that encrypts; the others
only decrypt, so keys rotate without downtime. BLIND_INDEX_KEY keys the HMAC used for lookups.
Outside production, missing keys are derived from SECRET_KEY so the embedded default just runs.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

KEY_BYTES = 32


class KeyProvider(Protocol):
    def active_key_id(self) -> str: ...

    def data_key(self, key_id: str) -> bytes: ...

    def key_ids(self) -> list[str]: ...

    def blind_index_key(self) -> bytes: ...


def parse_keyring(raw: str) -> dict[str, bytes]:
    """Parse `id:base64,id:base64` into an ordered {id: key}; the first entry is active."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries look like <id>:<base64 key>.")
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(f"Encryption key {key_id!r} must be {KEY_BYTES} bytes.")
        if key_id in keys:
            raise ImproperlyConfigured(f"Encryption key id {key_id!r} appears twice.")
        keys[key_id] = key
    return keys


def _derived(label: str) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).digest()


class EnvironmentKeyProvider:
    """Keys from settings (themselves from the environment)."""

    def __init__(self) -> None:
        raw = getattr(settings, "FIELD_ENCRYPTION_KEYS", "")
        index_raw = getattr(settings, "BLIND_INDEX_KEY", "")
        if getattr(settings, "IS_PRODUCTION", False) and (not raw or not index_raw):
            raise ImproperlyConfigured("Production needs FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY.")
        self._keys = parse_keyring(raw) if raw else {"dev1": _derived("field-encryption-dev1")}
        self._index_key = (
            base64.urlsafe_b64decode(index_raw + "=" * (-len(index_raw) % 4))
            if index_raw
            else _derived("blind-index-dev")
        )

    def active_key_id(self) -> str:
        return next(iter(self._keys))

    def data_key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise ImproperlyConfigured(f"No encryption key with id {key_id!r} is configured.") from None

    def key_ids(self) -> list[str]:
        return list(self._keys)

    def blind_index_key(self) -> bytes:
        return self._index_key


@functools.cache
def key_provider() -> KeyProvider:
    path = getattr(settings, "KEY_PROVIDER", "escrow_project.common.crypto.keys.EnvironmentKeyProvider")
    provider: KeyProvider = import_string(path)()
    return provider
