"""Authenticated encryption of field values (AES-256-GCM from `cryptography`).

A stored value is `v1:<key id>:<base64(nonce || ciphertext || tag)>`. The associated data binds it
to its column, so a ciphertext copied into another column or row type fails to decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from escrow_project.common.crypto.keys import key_provider

PREFIX = "v1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value failed authentication: tampered, truncated or under an unknown key."""


def encrypt(plaintext: str, *, context: str) -> str:
    provider = key_provider()
    key_id = provider.active_key_id()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(provider.data_key(key_id)).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(token: str) -> str:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("Not an encrypted value.")
    return parts[1]


def decrypt(token: str, *, context: str) -> str:
    key_id = key_id_of(token)
    try:
        blob = base64.urlsafe_b64decode(token.split(":", 2)[2])
        key = key_provider().data_key(key_id)
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError(f"Encrypted value under key {key_id!r} failed authentication ({context}).") from exc
    except Exception as exc:
        if type(exc).__name__ == "ImproperlyConfigured":
            raise DecryptionError(f"No key {key_id!r} to decrypt {context}.") from exc
        raise
