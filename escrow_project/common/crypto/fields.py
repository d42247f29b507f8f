"""Model fields whose values are encrypted at rest. Use them for personal and secret data.

They support no lookups but `isnull`: search through a blind index column instead
(`escrow_project.common.crypto.blind_index`).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.db import models

from escrow_project.common.crypto.cipher import decrypt, encrypt


class _EncryptedMixin:
    """Encrypts on the way into the database and decrypts on the way out."""

    model: Any
    name: str

    def _context(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    def to_plaintext(self, value: Any) -> str:
        return str(value)

    def from_plaintext(self, plaintext: str) -> Any:
        return plaintext

    def get_prep_value(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        return encrypt(self.to_plaintext(value), context=self._context())

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return self.from_plaintext(decrypt(value, context=self._context()))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None  # Django then reports an unsupported lookup: search by blind index instead
        return super().get_lookup(lookup_name)  # type: ignore[misc]


class EncryptedTextField(_EncryptedMixin, models.TextField):
    pass


class EncryptedDateField(_EncryptedMixin, models.TextField):
    """A date stored encrypted (ISO 8601 inside the ciphertext)."""

    def to_plaintext(self, value: Any) -> str:
        if isinstance(value, datetime.datetime):
            value = value.date()
        if isinstance(value, str):
            value = datetime.date.fromisoformat(value)
        return value.isoformat()

    def from_plaintext(self, plaintext: str) -> datetime.date:
        return datetime.date.fromisoformat(plaintext)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value))


class EncryptedJSONField(_EncryptedMixin, models.TextField):
    """A JSON document stored encrypted (for example bank details)."""

    def to_plaintext(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def from_plaintext(self, plaintext: str) -> Any:
        return json.loads(plaintext)
