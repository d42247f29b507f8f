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


def on_console_action_performed(
    sender: Any,
    instance: Any,
    action: str,
    label: str,
    operator: Any,
    reason: str,
    outcome: str,
    details: dict[str, Any],
    **_: Any,
) -> None:
    """An operator confirmed a console action: what, on which row, why (the reason they typed), outcome.

    Inside the action's transaction when it has one, so an action is never done without this event.
    """
    event_record(
        kind=f"console.{action}"[:100],
        subject_type=instance._meta.label_lower.replace(".", "_"),
        subject_id=str(instance.pk),
        actor=_actor(operator),
        payload={"model": instance._meta.label_lower, "action": action, "label": label, "reason": reason,
                 "outcome": outcome, **details},
    )  # fmt: skip


def _actor(user: Any) -> str:
    return f"user:{getattr(user, 'public_id', None) or getattr(user, 'pk', None) or 'system'}" if user else "system"


def _membership_event(kind: str, membership: Any, by: Any) -> None:
    event_record(
        kind=kind,
        subject_type="identity_organization",
        subject_id=str(membership.organization.public_id),
        actor=_actor(by),
        payload={"user": str(membership.user.public_id), "role": membership.role},
    )


def on_membership_granted(sender: Any, membership: Any, granted_by: Any = None, **_: Any) -> None:
    """A role was granted: who got which role where, and who granted it."""
    _membership_event("identity.role_granted", membership, granted_by)


def on_membership_revoked(sender: Any, membership: Any, revoked_by: Any = None, **_: Any) -> None:
    """A role was taken away."""
    _membership_event("identity.role_revoked", membership, revoked_by)


def _api_key_event(kind: str, api_key: Any, by: Any) -> None:
    event_record(
        kind=kind,
        subject_type="identity_organization",
        subject_id=str(api_key.organization.public_id),
        actor=_actor(by),
        payload={
            "api_key": str(api_key.public_id),
            "hint": f"esk_{api_key.prefix}_",
            "scopes": list(api_key.scopes),
            "read_only": api_key.read_only,
            "rotated_from": str(api_key.rotated_from.public_id) if api_key.rotated_from_id else None,
        },
    )


def on_api_key_issued(sender: Any, api_key: Any, issued_by: Any = None, **_: Any) -> None:
    """A partner key was issued (or a successor on rotation): never the key itself, only its public hint."""
    _api_key_event("identity.api_key_issued", api_key, issued_by)


def on_api_key_revoked(sender: Any, api_key: Any, revoked_by: Any = None, **_: Any) -> None:
    _api_key_event("identity.api_key_revoked", api_key, revoked_by)
