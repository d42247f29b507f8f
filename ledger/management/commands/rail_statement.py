"""`manage.py rail_statement [--date YYYY-MM-DD] [--rail stripe] [--json]`: the rail's statement for a
day against the books; every difference listed, exit 1 when there is any."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from escrow_project.common.days import utc_day_or_yesterday
from ledger.services.rail_statement import rail_statement_compare


class Command(BaseCommand):
    help = "Compare a day's payment-rail balance transactions with the deposits and payouts the ledger booked."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the UTC day (YYYY-MM-DD); default yesterday")
        parser.add_argument("--rail", default="stripe")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = utc_day_or_yesterday(options["date"])
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, not {options['date']!r}") from None
        report = rail_statement_compare(rail=options["rail"], day=day)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            body = report.as_dict()
            self.stdout.write(f"{report.rail} statement for {day}: {len(report.rail_lines)} rail lines, "
                              f"{len(report.book_lines)} booked, {report.matched} matched")  # fmt: skip
            self.stdout.write(f"  net at the rail {body['rail_net']}, in the books {body['book_net']}")
            for item in body["breaks"]:
                self.stdout.write(f"  BREAK {item['problem']:<17} {item['kind']:<4} {item['reference']}: rail "
                                  f"{item['rail_amount']} books {item['book_amount']} difference {item['difference']} "
                                  f"{item['currency']}")  # fmt: skip
        if report.breaks:
            raise CommandError(f"{len(report.breaks)} difference(s) between the rail and the books")
        self.stdout.write(self.style.SUCCESS("the rail and the books agree"))
