"""Print or write docs/audit-events.md from the audit kind registry (audit/kinds.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.kinds import audit_kinds_markdown


class Command(BaseCommand):
    help = "Print the audit event kinds; --write updates docs/audit-events.md, --check fails when it is stale."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.BASE_DIR) / "docs" / "audit-events.md"
        text = audit_kinds_markdown()
        if options["check"]:
            if not path.exists() or path.read_text() != text:
                raise CommandError("docs/audit-events.md is stale: run `python manage.py audit_kinds --write`")
            self.stdout.write("docs/audit-events.md matches the registry")
        elif options["write"]:
            path.write_text(text)
            self.stdout.write(f"wrote {path}")
        else:
            self.stdout.write(text)
