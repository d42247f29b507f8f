"""`{% load people %}`: `{% if user|has_role:"verifier" %}` (identity.selectors.user_has_role)."""

from __future__ import annotations

from typing import Any

from django import template

from identity.selectors import user_has_role

register = template.Library()


@register.filter
def has_role(user: Any, role: str) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user_has_role(user, role)
