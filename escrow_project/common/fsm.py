"""Run a django-fsm transition with readable refusals.

django-fsm says only "can't switch from X using method Y". Parties and operators need the reason,
so each guard (a `conditions=[...]` callable) carries it in its docstring and `transition_run`
reports the first failing one as an `InvalidTransitionError` before calling the transition.
"""

from __future__ import annotations

from typing import Any

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
