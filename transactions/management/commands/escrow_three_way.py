"""`manage.py escrow_three_way [--date YYYY-MM-DD]`: the day's three-way reconciliation (rail
statement, books, open escrow wallets) recorded as a run; exit 1 when it found breaks."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from escrow_project.common.days import utc_day_or_yesterday
from transactions.services import escrow_three_way


class Command(BaseCommand):
    help = "Reconcile a UTC day three ways: the rail's statement, the books, the sum of open escrow wallets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the UTC day (YYYY-MM-DD); default yesterday")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = utc_day_or_yesterday(options["date"])
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, not {options['date']!r}") from None
        run = escrow_three_way(day=day, actor="command:escrow_three_way")
        self.stdout.write(f"three-way {day}: run {run.public_id}")
        for line in run.lines.order_by("position"):
            self.stdout.write(f"  {' '.join(line.outcome_list):<24} {line.key}: ours {line.our_amount} "
                              f"theirs {line.their_amount} difference {line.difference}")  # fmt: skip
        if run.break_count:
            raise CommandError(f"{run.break_count} break(s): see /api/v1/ledger/reconciliation/runs/{run.public_id}/")
        self.stdout.write(self.style.SUCCESS("the rail, the books and the open escrow wallets agree"))
