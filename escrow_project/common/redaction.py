"""Keeping personal values out of logs and error bodies.

`redact_event` is a structlog processor: values under personal or secret keys are replaced, and
strings anywhere in the event that look like e-mail addresses, phone numbers or IBANs are masked.
`scrub_text` removes given submitted values (and those patterns) from a message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

# Substrings of key names whose values are personal or secret.
SENSITIVE_KEY_PARTS = (
    "email",
    "e_mail",
    "phone",
    "mobile",
    "date_of_birth",
    "birth_date",
    "national_id",
    "ssn",
    "tax_id",
    "passport",
    "account_number",
    "iban",
    "routing_number",
    "sort_code",
    "card_number",
    "secret",
    "password",
    "passwd",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "private_key",
    "cookie",
    "first_name",
    "last_name",
    "full_name",
    "address_line",
)
# Whole key names too short to match as substrings safely.
SENSITIVE_KEYS = frozenset({"dob", "pin", "cvv", "otp", "name_of_person"})

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# International numbers (+ and 8-15 digits with separators) and North-American 3-3-4 groups.
PHONE_RE = re.compile(r"(?<![\w+])\+\d[\d ().\-]{6,18}\d(?!\w)|(?<![\w\-])\(?\d{3}\)?[ .\-]\d{3}[ .\-]\d{4}(?![\w\-])")
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


@functools.cache
def _encrypted_field_names() -> frozenset[str]:
    """Names of every encrypted model field: whatever a model encrypts, a log must not show."""
    from escrow_project.common.crypto.fields import encrypted_fields

    return frozenset(field.name.lower() for _, field in encrypted_fields())


def _encrypted_names_if_ready() -> frozenset[str]:
    from django.apps import apps

    # Before the app registry is ready (early start-up logging) there are no models to ask.
    return _encrypted_field_names() if apps.ready else frozenset()


def is_sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower().replace("-", "_")
    return (
        lowered in SENSITIVE_KEYS
        or any(part in lowered for part in SENSITIVE_KEY_PARTS)
        or lowered in _encrypted_names_if_ready()
    )


def mask_patterns(text: str) -> str:
    """Mask anything that looks like an e-mail address, IBAN or phone number."""
    text = EMAIL_RE.sub(REDACTED, text)
    text = IBAN_RE.sub(REDACTED, text)
    return PHONE_RE.sub(REDACTED, text)


def redact_value(value: Any, *, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return mask_patterns(value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_sensitive_key(k) else redact_value(v, depth=depth + 1)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v, depth=depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v, depth=depth + 1) for v in value)
    return value


# Keys structlog and django-structlog add that hold no personal data and must stay readable.
_PASSTHROUGH = frozenset({"timestamp", "level", "logger", "request_id", "user_id", "code", "status"})


def redact_event(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: see the module docstring."""
    for key, value in list(event_dict.items()):
        if key in _PASSTHROUGH or key.startswith("_"):
            continue
        if is_sensitive_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(value)
    return event_dict


def scrub_text(text: str, submitted: Iterable[str]) -> str:
    """`text` without any of the submitted values (longest first) and without personal patterns."""
    # Four characters and up: shorter strings (currency codes, "yes") are not personal, and replacing
    # them would mangle the message itself.
    for value in sorted({v for v in submitted if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return mask_patterns(text)


def submitted_values(data: Any, *, depth: int = 0) -> list[str]:
    """Every string a caller submitted (nested structures walked; files and numbers skipped)."""
    if depth > 6 or data is None:
        return []
    if isinstance(data, str):
        return [data]
    if isinstance(data, Mapping) or hasattr(data, "lists"):
        items = data.lists() if hasattr(data, "lists") else data.items()
        found: list[str] = []
        for _, value in items:
            found.extend(submitted_values(value, depth=depth + 1))
        return found
    if isinstance(data, (list, tuple)):
        return [v for item in data for v in submitted_values(item, depth=depth + 1)]
    return []
