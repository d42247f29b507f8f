"""`manage.py insurer_statement FILE --insurer SLUG (--period YYYY-MM | --audit-834 --currency USD)`:
reconcile an insurer's monthly statement (CSV, docs/decisions/0103) or 834 full-file audit with our
books, recorded as a run; the same file again prints its first run. Exit 1 when it found breaks."""

from __future__ import annotations

import calendar
import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from endorsements.services.reconciliation import insurer_audit_import, insurer_statement_import
from escrow_project.common.errors import DomainError
from identity.models import Organization, OrganizationKind


class Command(BaseCommand):
    help = "Reconcile an insurer's monthly statement (CSV) or 834 audit file with our endorsements."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--insurer", required=True, help="the insurer organization's slug")
        parser.add_argument("--period", help="the statement's month, YYYY-MM")
        parser.add_argument("--tolerance", help="money tolerance (default RECONCILIATION_TOLERANCE)")
        parser.add_argument("--audit-834", action="store_true", help="the file is an 834 full-file audit (030)")
        parser.add_argument("--currency", default="USD", help="the policies' currency (834 audit)")

    def handle(self, *args: Any, **options: Any) -> None:
        insurer = Organization.objects.filter(slug=options["insurer"], kind=OrganizationKind.INSURER).first()
        if insurer is None:
            raise CommandError(f"No insurer with slug {options['insurer']!r}.")
        path = Path(options["file"])
        try:
            with path.open("rb") as handle:
                if options["audit_834"]:
                    run, created = insurer_audit_import(
                        insurer=insurer, handle=handle, currency=options["currency"], file_name=path.name,
                        actor="command:insurer_statement",
                    )  # fmt: skip
                else:
                    start, end = _month(options["period"])
                    run, created = insurer_statement_import(
                        insurer=insurer, handle=handle, period_start=start, period_end=end,
                        tolerance=_tolerance(options["tolerance"]), file_name=path.name,
                        actor="command:insurer_statement",
                    )  # fmt: skip
        except (OSError, DomainError) as exc:
            raise CommandError(str(getattr(exc, "detail", exc))) from None
        self.stdout.write(f"{'recorded' if created else 'already recorded'}: run {run.public_id}, "
                          f"{run.line_count} lines, {run.break_count} breaks {run.summary}")  # fmt: skip
        if run.break_count:
            raise CommandError(f"{run.break_count} break(s): see /api/v1/ledger/reconciliation/runs/{run.public_id}/")


def _month(period: str | None) -> tuple[datetime.date, datetime.date]:
    try:
        year, month = (int(part) for part in (period or "").split("-"))
        return datetime.date(year, month, 1), datetime.date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:
        raise CommandError("--period must be YYYY-MM (the statement's month).") from None


def _tolerance(value: str | None) -> Decimal | None:
    try:
        return None if value is None else Decimal(value)
    except InvalidOperation:
        raise CommandError("--tolerance must be a number.") from None
