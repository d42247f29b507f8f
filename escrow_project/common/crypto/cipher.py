"""Authenticated encryption of field values (AES-256-GCM from `cryptography`).

A stored value is `v1:<key id>:<base64(nonce || ciphertext || tag)>`. The associated data binds it
to its column (`<app_label.model>.<field>`), so a ciphertext copied into another column or model
fails to decrypt. It is not bound to its row (the primary key is unknown before an insert): swapping
two ciphertexts of the same column between rows needs write access to the database and is not
detected here; the audit trail is the control for that.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prometheus_client import Counter

from escrow_project.common.crypto.keys import UnknownKeyError, key_provider

PREFIX = "v1"
NONCE_BYTES = 12
TAG_BYTES = 16

DECRYPTION_FAILURES = Counter(
    "field_decryption_failures_total",
    "Stored encrypted values that failed to decrypt (tampered, truncated or under an unknown key).",
    ["reason"],
)


class DecryptionError(Exception):
    """A stored value failed authentication: tampered, truncated or under an unknown key."""


def encrypt(plaintext: str, *, context: str) -> str:
    """Seal `plaintext` under the active key, bound to `context`."""
    provider = key_provider()
    key_id = provider.active_key_id()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(provider.data_key(key_id)).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def is_encrypted(value: object) -> bool:
    """True for a string in the stored format (says nothing about whether it decrypts)."""
    if not isinstance(value, str):
        return False
    parts = value.split(":", 2)
    return len(parts) == 3 and parts[0] == PREFIX and bool(parts[1])


def key_id_of(token: str) -> str:
    """The id of the key a stored value was sealed with (rotation skips values under the active key)."""
    if not is_encrypted(token):
        raise DecryptionError("Not an encrypted value.")
    return token.split(":", 2)[1]


def decrypt(token: str, *, context: str) -> str:
    """Open a stored value; anything but an intact value sealed for `context` raises DecryptionError."""
    key_id = key_id_of(token)
    try:
        key = key_provider().data_key(key_id)
    except UnknownKeyError as exc:
        DECRYPTION_FAILURES.labels(reason="unknown_key").inc()
        raise DecryptionError(f"No key {key_id!r} to decrypt {context}.") from exc
    try:
        # validate=True: a stray character is tampering, not something to skip silently.
        blob = base64.b64decode(token.split(":", 2)[2], altchars=b"-_", validate=True)
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise ValueError("truncated")
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError) as exc:
        DECRYPTION_FAILURES.labels(reason="authentication").inc()
        raise DecryptionError(f"Encrypted value under key {key_id!r} failed authentication ({context}).") from exc


def reencrypt(token: str, *, context: str) -> str:
    """The same plaintext sealed under the active key; unchanged when it already is."""
    if key_id_of(token) == key_provider().active_key_id():
        return token
    return encrypt(decrypt(token, context=context), context=context)
