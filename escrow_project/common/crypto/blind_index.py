"""Keyed blind indexes: find an encrypted value by exact match without storing the plaintext."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from escrow_project.common.crypto.keys import key_provider


def normalise(value: str) -> str:
    """Case, width and whitespace differences must not defeat a match."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def blind_index(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of the normalised value; `purpose` separates indexes of different fields."""
    message = f"{purpose}\x00{normalise(value)}".encode()
    return hmac.new(key_provider().blind_index_key(), message, hashlib.sha256).hexdigest()
