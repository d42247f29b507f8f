"""Signals the kernel sends upward (receivers live in the apps above, per HOUSE_STYLE section 1)."""

from __future__ import annotations

from django.dispatch import Signal

# An operator revealed one masked personal value in the console (MaskedFieldsAdminMixin.on_reveal).
# Sent with sender=<model class>, instance=<object>, field_name=<str>, operator=<user>; sent before
# the value is shown, so a receiver that raises (the audit write failed) stops the reveal.
personal_value_revealed = Signal()

# An operator confirmed an action on an object's page in the console (ConsoleAdmin.console_action_view).
# Sent with sender=<model class>, instance=<object>, action=<name>, label=<button text>,
# operator=<user>, reason=<str>, outcome="done" | "requested" | "refused", details=<dict of str>.
# Sent inside the action's transaction (for actions that may run in one), so a receiver that raises
# (the audit write failed) undoes the action: no change without its recorded reason.
console_action_performed = Signal()
