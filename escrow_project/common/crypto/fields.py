"""Model fields whose values are encrypted at rest. Use them for personal and secret data.

They support no lookups but `isnull`: search through a blind index column instead
(`escrow_project.common.crypto.blind_index`).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django import forms
from django.apps import apps
from django.core import checks
from django.db import models

from escrow_project.common.crypto.cipher import decrypt, encrypt


class _EncryptedMixin:
    """Encrypts on the way into the database and decrypts on the way out."""

    model: Any
    name: str

    def _context(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    @property
    def encryption_context(self) -> str:
        """The associated data every value of this column is sealed with."""
        return self._context()

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors: list[checks.CheckMessage] = [*super().check(**kwargs)]  # type: ignore[misc]
        # Ciphertexts use a random nonce: a unique constraint or an index on them enforces and finds nothing.
        if getattr(self, "primary_key", False) or getattr(self, "unique", False) or getattr(self, "db_index", False):
            errors.append(
                checks.Error(
                    "An encrypted field cannot be a primary key, unique or indexed.",
                    hint="Add a blind index column (escrow_project.common.crypto.blind_index) and constrain that.",
                    obj=self,
                    id="common.E401",
                )
            )
        return errors

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
        if value is None or value == "":
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value))

    def formfield(self, **kwargs: Any) -> Any:
        return models.Field.formfield(self, form_class=forms.DateField, **kwargs)


class EncryptedJSONField(_EncryptedMixin, models.TextField):
    """A JSON document stored encrypted (for example bank details)."""

    # It holds a dict or list, not the str its TextField base declares to type checkers.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def to_plaintext(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def from_plaintext(self, plaintext: str) -> Any:
        return json.loads(plaintext)

    def formfield(self, **kwargs: Any) -> Any:
        return models.Field.formfield(self, form_class=forms.JSONField, **kwargs)


EncryptedFieldMixin = _EncryptedMixin  # the public name, for isinstance checks


def encrypted_fields() -> list[tuple[type[models.Model], models.Field[Any, Any]]]:
    """Every concrete (model, field) pair that stores encrypted values, across installed apps."""
    found: list[tuple[type[models.Model], models.Field[Any, Any]]] = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.local_concrete_fields:
            if isinstance(field, _EncryptedMixin):
                found.append((model, field))
    return found
