"""`manage.py ledger_check`: run the invariant check now; exit 1 on any breach."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.services import invariants_run


class Command(BaseCommand):
    help = "Verify the ledger invariants (balanced books, counters equal history, no guarded overdraft)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = invariants_run()
        self.stdout.write(f"accounts checked: {report.accounts_checked}, lines checked: {report.lines_checked}")
        if not report.ok:
            for breach in report.breaches:
                self.stderr.write(f"BREACH: {breach}")
            raise CommandError(f"{len(report.breaches)} ledger invariant breach(es)")
        self.stdout.write(self.style.SUCCESS("ledger invariants hold"))
