"""Print or write docs/errors.md's generated section from the error-code registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from escrow_project.common.error_codes import registry_markdown

START, END = "<!-- error-codes:start -->", "<!-- error-codes:end -->"


def docs_with_registry(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{registry_markdown()}{END}{tail}"


class Command(BaseCommand):
    help = "Print the error-code tables; --write updates docs/errors.md, --check fails when it is stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.BASE_DIR) / "docs" / "errors.md"
        current = path.read_text()
        if START not in current or END not in current:
            raise CommandError(f"{path} lacks the {START} / {END} markers")
        updated = docs_with_registry(current)
        if options["check"]:
            if updated != current:
                raise CommandError("docs/errors.md is stale: run `python manage.py error_codes --write`")
            self.stdout.write("docs/errors.md matches the registry")
        elif options["write"]:
            path.write_text(updated)
            self.stdout.write(f"wrote {path}")
        else:
            self.stdout.write(registry_markdown())
