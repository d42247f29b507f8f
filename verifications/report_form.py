"""A report form a person can fill in, drawn from the verification type's own report schema.

The schema (verifications.agents.*) stays the one definition of a report: this module only lists
its fields as form inputs and turns the posted form back into the payload the API would receive;
the provider then validates it exactly as it validates a partner's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from verifications.agents.base import AmountField
from verifications.agents.registry import provider_for

ROWS = 5  # empty rows offered for a list of items (an appraisal needs three comparables)


@dataclass
class Input:
    name: str  # the HTML name
    label: str
    kind: str  # text, textarea, date, amount, choice, yesno, lines
    choices: list[str] = field(default_factory=list)
    value: str = ""


@dataclass
class Group:
    """A list of items (findings, liens, comparables): ROWS rows of the item's inputs."""

    name: str
    label: str
    rows: list[list[Input]]


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _input(name: str, html_name: str, f: Any, posted: Any) -> Input:
    value = str(posted.get(html_name, "")) if posted is not None else ""
    if isinstance(f, serializers.BooleanField):
        return Input(html_name, _label(name), "yesno", value=value)
    if isinstance(f, serializers.ChoiceField):
        return Input(html_name, _label(name), "choice", choices=[str(c) for c in f.choices], value=value)
    if isinstance(f, serializers.DateField):
        return Input(html_name, _label(name), "date", value=value)
    if isinstance(f, AmountField):
        return Input(html_name, _label(name), "amount", value=value)
    if isinstance(f, serializers.ListField):
        return Input(html_name, f"{_label(name)} (one per line)", "lines", value=value)
    long = isinstance(f, serializers.CharField) and (f.max_length or 0) > 300
    return Input(html_name, _label(name), "textarea" if long else "text", value=value)


def form_for(verification_type: str, posted: Any = None) -> list[Input | Group]:
    """The inputs of a report of this type, filled with what was posted (after a refusal)."""
    schema = provider_for(verification_type).schema()
    items: list[Input | Group] = []
    for name, f in schema.fields.items():
        if isinstance(f, serializers.ListSerializer):
            child = f.child
            rows = [
                [_input(sub, f"{name}-{i}-{sub}", sf, posted) for sub, sf in child.fields.items()]  # type: ignore[union-attr]
                for i in range(ROWS)
            ]
            items.append(Group(name, _label(name), rows))
        else:
            items.append(_input(name, name, f, posted))
    return items


def _value(item: Input, raw: str) -> Any:
    raw = raw.strip()
    if item.kind == "yesno":
        return {"yes": True, "no": False}.get(raw, raw or None)
    if item.kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    return raw


def payload_from(verification_type: str, posted: Any) -> dict[str, Any]:
    """The posted form as a report payload; empty rows of a list are left out, empty fields too
    (so the schema names what is missing, field by field)."""
    payload: dict[str, Any] = {}
    for item in form_for(verification_type):
        if isinstance(item, Group):
            rows = []
            for row in item.rows:
                values = {i.name.rsplit("-", 1)[-1]: str(posted.get(i.name, "")).strip() for i in row}
                if any(values.values()):
                    rows.append({k: _value(i, values[k]) for k, i in zip(values, row, strict=True) if values[k]})
            payload[item.name] = rows
        else:
            raw = str(posted.get(item.name, ""))
            if raw.strip() or item.kind == "lines":
                payload[item.name] = _value(item, raw)
    return payload
