"""Envelope encryption: data keys are stored only wrapped by a key-encryption key (KEK) held elsewhere.

`EnvelopeKeyProvider` is a `KeyProvider` (select it with KEY_PROVIDER). It reads wrapped data keys
from WRAPPED_DATA_KEYS (`<key id>:<base64 wrapped key>,...`, first = active) and a wrapped blind
index key from WRAPPED_BLIND_INDEX_KEY, and asks a `KeyWrapper` (KEY_WRAPPER) to unwrap each one
once, at start-up. The plaintext data keys then live only in process memory.

`LocalKeyWrapper` is the reference wrapper: the KEK comes from KEY_ENCRYPTION_KEY or from the file
named by KEY_ENCRYPTION_KEY_FILE, and wraps with AES-256-GCM bound to the key id. A cloud KMS plugs
in as another `KeyWrapper` whose `unwrap` calls the KMS's Decrypt with the key id as encryption
context (AWS KMS `Decrypt(CiphertextBlob=..., EncryptionContext={"key_id": ...})`, GCP KMS
`decrypt(name=..., ciphertext=..., additional_authenticated_data=...)`): the KEK never leaves the
KMS, and revoking the process's KMS permission revokes its access to every field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from escrow_project.common.crypto.keys import (
    KEY_BYTES,
    MIN_INDEX_KEY_BYTES,
    KeyringProvider,
    decode_key,
    encode_key,
    validate_key_id,
)

DEFAULT_WRAPPER = "escrow_project.common.crypto.envelope.LocalKeyWrapper"
INDEX_KEY_ID = "blind-index"
_NONCE_BYTES = 12


class KeyWrapper(Protocol):
    """What a KMS does for us: wrap a fresh data key, unwrap a stored one (bound to its key id)."""

    def wrap(self, data_key: bytes, *, key_id: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, key_id: str) -> bytes: ...


class LocalKeyWrapper:
    """Reference KEK wrapper: AES-256-GCM under a KEK from the environment or a file."""

    def __init__(self, kek: bytes | None = None) -> None:
        self._kek = kek if kek is not None else self._load_kek()
        if len(self._kek) != KEY_BYTES:
            raise ImproperlyConfigured(f"KEY_ENCRYPTION_KEY must be {KEY_BYTES} bytes.")

    @staticmethod
    def _load_kek() -> bytes:
        path = getattr(settings, "KEY_ENCRYPTION_KEY_FILE", "")
        if path:
            try:
                return decode_key(Path(path).read_text().strip(), name="KEY_ENCRYPTION_KEY_FILE")
            except OSError as exc:
                raise ImproperlyConfigured(f"KEY_ENCRYPTION_KEY_FILE cannot be read: {exc.strerror}.") from exc
        raw = getattr(settings, "KEY_ENCRYPTION_KEY", "")
        if not raw:
            raise ImproperlyConfigured("The envelope key provider needs KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE.")
        return decode_key(raw, name="KEY_ENCRYPTION_KEY")

    def wrap(self, data_key: bytes, *, key_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(self._kek).encrypt(nonce, data_key, f"data-key:{key_id}".encode())

    def unwrap(self, wrapped: bytes, *, key_id: str) -> bytes:
        try:
            return AESGCM(self._kek).decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], f"data-key:{key_id}".encode()
            )
        except (InvalidTag, ValueError) as exc:
            raise ImproperlyConfigured(
                f"Wrapped data key {key_id!r} does not unwrap under this key-encryption key."
            ) from exc


def key_wrapper() -> KeyWrapper:
    wrapper: KeyWrapper = import_string(getattr(settings, "KEY_WRAPPER", "") or DEFAULT_WRAPPER)()
    return wrapper


def wrap_new_key(wrapper: KeyWrapper, *, key_id: str, size: int = KEY_BYTES) -> str:
    """A fresh random key, wrapped, as the `<id>:<base64>` entry the settings expect."""
    return f"{validate_key_id(key_id)}:{encode_key(wrapper.wrap(os.urandom(size), key_id=key_id))}"


class EnvelopeKeyProvider(KeyringProvider):
    """Data keys unwrapped by a KEK (local or KMS) at start-up; same interface as the environment provider."""

    def __init__(self, wrapper: KeyWrapper | None = None) -> None:
        wrapper = wrapper or key_wrapper()
        raw = getattr(settings, "WRAPPED_DATA_KEYS", "")
        index_raw = getattr(settings, "WRAPPED_BLIND_INDEX_KEY", "")
        if not raw.strip() or not index_raw.strip():
            raise ImproperlyConfigured("The envelope key provider needs WRAPPED_DATA_KEYS and WRAPPED_BLIND_INDEX_KEY.")
        self._keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in raw.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep:
                raise ImproperlyConfigured("WRAPPED_DATA_KEYS entries look like <id>:<base64 wrapped key>.")
            validate_key_id(key_id)
            if key_id in self._keys:
                raise ImproperlyConfigured(f"Wrapped key id {key_id!r} appears twice.")
            key = wrapper.unwrap(decode_key(encoded, name=f"Wrapped key {key_id!r}"), key_id=key_id)
            if len(key) != KEY_BYTES:
                raise ImproperlyConfigured(f"Data key {key_id!r} must be {KEY_BYTES} bytes.")
            self._keys[key_id] = key
        index_id, _, index_encoded = index_raw.strip().partition(":")
        self._index_key = wrapper.unwrap(decode_key(index_encoded, name="WRAPPED_BLIND_INDEX_KEY"), key_id=index_id)
        if len(self._index_key) < MIN_INDEX_KEY_BYTES:
            raise ImproperlyConfigured(f"The blind index key must be at least {MIN_INDEX_KEY_BYTES} bytes.")
