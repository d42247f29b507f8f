"""Receivers of signals sent by lower layers; each is a one-line call to a service."""

from __future__ import annotations

from typing import Any

from audit.services import event_record


def on_personal_value_revealed(sender: Any, instance: Any, field_name: str, operator: Any, **_: Any) -> None:
    """An operator revealed a masked personal value in the console: record who, which record, which field.

    Raising here stops the reveal (the kernel sends the signal before showing the value), so a
    reveal is never shown without its audit event. The value itself is never recorded.
    """
    event_record(
        kind="console.personal_value_revealed",
        subject_type=instance._meta.label_lower.replace(".", "_"),
        subject_id=str(instance.pk),
        actor=f"user:{getattr(operator, 'public_id', None) or getattr(operator, 'pk', 'unknown')}",
        payload={"model": instance._meta.label_lower, "field": field_name},
    )
