"""The log's Ed25519 key: signs tree heads. Verification lives in audit.verify (no Django)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings


@lru_cache(maxsize=4)
def _key(seed_hex: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def private_key() -> Ed25519PrivateKey:
    return _key(settings.AUDIT_SIGNING_KEY)


def public_key_hex() -> str:
    return private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sign(message: bytes) -> str:
    return private_key().sign(message).hex()
