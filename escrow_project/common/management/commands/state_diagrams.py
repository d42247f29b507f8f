"""Write (or check) docs/states/<model>.dot for every django-fsm state field, from the transitions.

`dot -Tsvg docs/states/<model>.dot` renders one. The files are generated so that a diagram cannot
drift from the code: `--check` (run by the test suite) fails when one is stale.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_fsm import FSMFieldMixin


def _states(value: Any, choices: list[str], target: Any = None) -> list[str]:
    if value == "*":
        return choices
    if value == "+":
        return [c for c in choices if c != target]
    allowed = getattr(value, "allowed_states", None)  # RETURN_VALUE / GET_STATE targets
    return [str(s) for s in allowed] if allowed is not None else [str(value)]


def diagram(model: type[Any], field: Any) -> tuple[str, str]:
    """The file stem and the DOT text of `model`'s lifecycle on `field`."""
    stem = re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()
    if len([f for f in model._meta.fields if isinstance(f, FSMFieldMixin)]) > 1:
        stem = f"{stem}_{field.name}"
    choices = [str(value) for value, _ in field.choices]
    lines = [f"digraph {stem} {{", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
    for name in sorted(dir(model)):
        meta = getattr(getattr(model, name, None), "_django_fsm", None)
        if meta is None or getattr(meta.field, "name", meta.field) != field.name:
            continue
        for found in meta.transitions.values():
            # `custom={"diagram": "..."}` adds a note to the label (how a computed target is chosen).
            note = (found.custom or {}).get("diagram")
            label = f"{found.name} ({note})" if note else found.name
            for source in _states(found.source, choices):
                for target in _states(found.target, choices, source):
                    lines.append(f'  "{source}" -> "{target}" [label="{label}"];')
    lines.append("}")
    return stem, "\n".join(lines) + "\n"


def diagrams() -> dict[str, str]:
    found: dict[str, str] = {}
    for model in apps.get_models():
        if model._meta.proxy:
            continue  # the same table and lifecycle as its concrete model
        for field in model._meta.fields:
            if isinstance(field, FSMFieldMixin):
                stem, text = diagram(model, field)
                found[stem] = text
    return dict(sorted(found.items()))


class Command(BaseCommand):
    help = "Write docs/states/*.dot from the django-fsm transitions; --check fails when one is stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(settings.BASE_DIR) / "docs" / "states"
        stale = []
        for stem, text in diagrams().items():
            path = folder / f"{stem}.dot"
            if path.exists() and path.read_text() == text:
                continue
            stale.append(path.name)
            if not options["check"]:
                path.write_text(text)
                self.stdout.write(f"wrote {path}")
        if options["check"] and stale:
            raise CommandError(f"stale state diagrams: {', '.join(stale)}; run `python manage.py state_diagrams`")
