"""Run a django-fsm transition with readable refusals.

django-fsm says only "can't switch from X using method Y". Parties and operators need the reason,
so each guard (a `conditions=[...]` callable) carries it in its docstring and `transition_run`
reports the first failing one as an `InvalidTransitionError` before calling the transition.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django_fsm import FSMFieldMixin

from escrow_project.common.errors import InvalidTransitionError


def transition_refusal(instance: Any, name: str) -> str | None:
    """Why `name` may not run on `instance` now, or None when it may."""
    method = getattr(type(instance), name)
    meta = method._django_fsm
    field = meta.field
    state = field.get_state(instance) if hasattr(field, "get_state") else getattr(instance, field)
    found = meta.get_transition(state)
    if found is None:
        return f"Cannot {name.replace('_', ' ')} while the {type(instance)._meta.verbose_name} is {state}."
    for condition in found.conditions or []:
        if not condition(instance):
            return (condition.__doc__ or f"A condition of {name} is not met.").strip()
    return None


def transition_run(instance: Any, name: str, *args: Any, code: str = "invalid_transition", **kwargs: Any) -> Any:
    """Call transition `name` or raise InvalidTransitionError with the readable reason."""
    refusal = transition_refusal(instance, name)
    if refusal is not None:
        raise InvalidTransitionError(refusal, code=code)
    return getattr(instance, name)(*args, **kwargs)


def writes(*columns: str) -> dict[str, tuple[str, ...]]:
    """A transition's `custom=` declaring the columns (besides its state field) it changes, so a
    bulk save path writes exactly those: `@transition(..., custom=writes("sent_at", "last_error"))`."""
    return {"writes": columns}


def transition_columns(model: type[Any], *names: str) -> tuple[str, ...]:
    """The state field and every column the named transitions of `model` declare, in order, once each."""
    columns: list[str] = []
    for name in names:
        meta = getattr(model, name)._django_fsm
        field = meta.field
        state = field if isinstance(field, str) else field.name
        columns.append(state)
        for found in meta.transitions.values():
            columns.extend(found.custom.get("writes", ()))
    return tuple(dict.fromkeys(columns))


class ProtectedStateModel(models.Model):
    """Base of a state-machine mixin whose FSM fields are `protected=True`: such a field refuses
    assignment once loaded, and reloading the row from the database must still work."""

    class Meta:
        abstract = True

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        for field in self._meta.fields:
            if isinstance(field, FSMFieldMixin):
                self.__dict__.pop(field.attname, None)
        super().refresh_from_db(*args, **kwargs)
