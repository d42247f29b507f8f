"""Where encryption keys come from, behind one small interface.

The default provider reads keys from the environment: FIELD_ENCRYPTION_KEYS is a comma-separated
list of `<key id>:<urlsafe base64 of 32 bytes>`, the first being the one that encrypts; the others
only decrypt, so keys rotate without downtime. BLIND_INDEX_KEY keys the HMAC used for lookups.
Outside production, missing keys are derived from SECRET_KEY so the embedded default just runs.

KEY_PROVIDER names another class (for example `escrow_project.common.crypto.envelope.
EnvelopeKeyProvider`, where a key-encryption key in a KMS unwraps stored data keys); see
docs/decisions/0401-data-protection.md.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

KEY_BYTES = 32
MIN_INDEX_KEY_BYTES = 32
DEFAULT_PROVIDER = "escrow_project.common.crypto.keys.EnvironmentKeyProvider"
# Key ids are written into every stored value (`v1:<id>:...`), so they must never contain `:`.
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SETTINGS_THAT_CHANGE_KEYS = {
    "FIELD_ENCRYPTION_KEYS",
    "BLIND_INDEX_KEY",
    "KEY_PROVIDER",
    "KEY_WRAPPER",
    "KEY_ENCRYPTION_KEY",
    "KEY_ENCRYPTION_KEY_FILE",
    "WRAPPED_DATA_KEYS",
    "WRAPPED_BLIND_INDEX_KEY",
    "SECRET_KEY",
    "IS_PRODUCTION",
}


class KeyProvider(Protocol):
    def active_key_id(self) -> str: ...

    def data_key(self, key_id: str) -> bytes: ...

    def key_ids(self) -> list[str]: ...

    def blind_index_key(self) -> bytes: ...


class UnknownKeyError(ImproperlyConfigured):
    """A stored value names a key id the provider does not hold."""


def decode_key(encoded: str, *, name: str) -> bytes:
    """Urlsafe base64 (padding optional) to bytes; a typo is a configuration error, never a crash later."""
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} is not valid urlsafe base64.") from exc


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def validate_key_id(key_id: str) -> str:
    if not KEY_ID_PATTERN.match(key_id):
        raise ImproperlyConfigured(f"Encryption key id {key_id!r} must be 1-32 characters of A-Z a-z 0-9 _ -.")
    return key_id


def parse_keyring(raw: str) -> dict[str, bytes]:
    """Parse `id:base64,id:base64` into an ordered {id: key}; the first entry is active."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries look like <id>:<base64 key>.")
        validate_key_id(key_id)
        key = decode_key(encoded, name=f"Encryption key {key_id!r}")
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(f"Encryption key {key_id!r} must be {KEY_BYTES} bytes.")
        if key_id in keys:
            raise ImproperlyConfigured(f"Encryption key id {key_id!r} appears twice.")
        keys[key_id] = key
    if raw.strip() and not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds no key.")
    return keys


def parse_index_key(raw: str) -> bytes:
    key = decode_key(raw.strip(), name="BLIND_INDEX_KEY")
    if len(key) < MIN_INDEX_KEY_BYTES:
        raise ImproperlyConfigured(f"BLIND_INDEX_KEY must be at least {MIN_INDEX_KEY_BYTES} bytes.")
    return key


def _derived(label: str) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).digest()


def dev_keys_allowed() -> bool:
    """Keys derived from SECRET_KEY are a convenience of the embedded default, never of production."""
    return not getattr(settings, "IS_PRODUCTION", False)


class KeyringProvider:
    """A provider over an ordered in-memory keyring (first key active); subclasses fill it."""

    _keys: dict[str, bytes]
    _index_key: bytes

    def active_key_id(self) -> str:
        return next(iter(self._keys))

    def data_key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(f"No encryption key with id {key_id!r} is configured.") from None

    def key_ids(self) -> list[str]:
        return list(self._keys)

    def blind_index_key(self) -> bytes:
        return self._index_key


class EnvironmentKeyProvider(KeyringProvider):
    """Keys from settings (themselves from the environment)."""

    def __init__(self) -> None:
        raw = getattr(settings, "FIELD_ENCRYPTION_KEYS", "")
        index_raw = getattr(settings, "BLIND_INDEX_KEY", "")
        if not dev_keys_allowed() and (not raw.strip() or not index_raw.strip()):
            raise ImproperlyConfigured(
                "Production needs FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY "
                "(generate them with `manage.py generate_encryption_keys`)."
            )
        self._keys = parse_keyring(raw) if raw.strip() else {"dev1": _derived("field-encryption-dev1")}
        self._index_key = parse_index_key(index_raw) if index_raw.strip() else _derived("blind-index-dev")


@functools.cache
def key_provider() -> KeyProvider:
    path = getattr(settings, "KEY_PROVIDER", "") or DEFAULT_PROVIDER
    provider: KeyProvider = import_string(path)()
    return provider


def reset_key_provider() -> None:
    """Forget the cached provider, so the next use reads the keys again (tests, rotation)."""
    key_provider.cache_clear()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    # Without this, override_settings(FIELD_ENCRYPTION_KEYS=...) would be silently ignored.
    if setting in _SETTINGS_THAT_CHANGE_KEYS:
        reset_key_provider()
