"""Build a saved row of any model with a canary in every encrypted field (shared by the canary and
rotation tests, so they cover models other apps add later without being edited).

A model is built by its factory when one exists in `tests/factories.py` or `tests/<app>/factories.py`,
otherwise by filling required fields with plausible values. If neither works the test fails and says
so: add a factory for the model.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import inspect
import uuid
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from factory.django import DjangoModelFactory

from escrow_project.common.crypto.fields import EncryptedDateField, EncryptedJSONField, encrypted_fields

TOKEN = f"cnry{uuid.uuid4().hex[:16]}"
CANARY_TEXT = f"{TOKEN}@leak-test.example"
CANARY_DATE = datetime.date(1913, 7, 29)
# Every canary string is e-mail shaped, so a log line that carries one under an innocent key is still
# caught by the value patterns; the raw-database check looks for the bare token inside it.
CANARY_JSON = {"holder": CANARY_TEXT, "contact": [CANARY_TEXT]}
NEEDLES = (TOKEN, CANARY_DATE.isoformat())


def canary_for(field: models.Field[Any, Any]) -> Any:
    if isinstance(field, EncryptedDateField):
        return CANARY_DATE
    if isinstance(field, EncryptedJSONField):
        return CANARY_JSON
    return CANARY_TEXT


def encrypted_models() -> dict[type[models.Model], list[models.Field[Any, Any]]]:
    found: dict[type[models.Model], list[models.Field[Any, Any]]] = {}
    for model, field in encrypted_fields():
        found.setdefault(model, []).append(field)
    return found


def _factory_for(model: type[models.Model]) -> Any:
    for module_name in ("tests.factories", f"tests.{model._meta.app_label}.factories"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for _, candidate in inspect.getmembers(module, inspect.isclass):
            if issubclass(candidate, DjangoModelFactory) and getattr(candidate._meta, "model", None) is model:
                return candidate
    return None


def _plausible(field: models.Field[Any, Any], depth: int) -> Any:
    unique = uuid.uuid4().hex[:12]
    if field.choices:
        return next(iter(field.flatchoices))[0]
    if isinstance(field, models.ForeignKey):
        return build(field.related_model, {}, depth + 1)
    if isinstance(field, EncryptedDateField):
        return datetime.date(2000, 1, 1)
    if isinstance(field, EncryptedJSONField | models.JSONField):
        return {}
    if isinstance(field, models.EmailField):
        return f"{unique}@example.test"
    if isinstance(field, models.URLField):
        return f"https://{unique}.example.test/"
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.CharField | models.TextField):
        return unique[: field.max_length or 12]
    if isinstance(field, models.DecimalField):
        return decimal.Decimal("1")
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField):
        return 1
    if isinstance(field, models.FloatField):
        return 1.0
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return timezone.now().date()
    if isinstance(field, models.DurationField):
        return datetime.timedelta(minutes=1)
    if isinstance(field, models.BinaryField):
        return b"x"
    raise TypeError(f"no plausible value for {field!r}")


def build(model: type[models.Model], values: dict[str, Any], depth: int = 0) -> models.Model:
    """A saved instance of `model` with `values` set."""
    if depth > 4:
        raise RecursionError(f"foreign keys nest too deep at {model._meta.label}")
    factory = _factory_for(model)
    if factory is not None:
        instance: models.Model = factory.create(**values)
        return instance
    kwargs = dict(values)
    for field in model._meta.concrete_fields:
        if field.name in kwargs or field.primary_key or field.has_default() or field.null:
            continue
        if field.blank and field.empty_strings_allowed and not isinstance(field, models.ForeignKey):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        kwargs[field.name] = _plausible(field, depth)
    with transaction.atomic():
        return model._default_manager.create(**kwargs)


def build_with_canaries(model: type[models.Model], fields: list[models.Field[Any, Any]]) -> models.Model:
    return build(model, {field.name: canary_for(field) for field in fields})
