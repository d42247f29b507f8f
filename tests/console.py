"""Driving the operator console's confirmed actions in tests, as an operator does: open the
object's action page (it says what will happen), then confirm with a reason."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import quote
from django.db import models
from django.urls import reverse

REASON = "Checked with the counterparty by phone"


def action_url(obj: models.Model, action: str, *, model: type[models.Model] | None = None) -> str:
    opts = (model or type(obj))._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_console_action", args=[quote(obj.pk), action])


def confirm(
    client: Any,
    obj: models.Model,
    action: str,
    *,
    reason: str = REASON,
    model: type[models.Model] | None = None,
    **fields: Any,
) -> Any:
    """POST the confirmation (with the reason) and follow to the object's page; returns that page."""
    return client.post(action_url(obj, action, model=model), {"reason": reason, **fields}, follow=True)


def page_text(response: Any) -> str:
    return str(response.content.decode())
