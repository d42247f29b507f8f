"""A reconciliation run as a CSV (every line) and as a PDF (the summary and every break).

The CSV streams; its columns are listed in docs/decisions/0103. The PDF is for people: it lists the
first `PDF_BREAK_LIMIT` breaks and says how many more the CSV holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fpdf import FPDF

from ledger.models import ReconciliationBreak, ReconciliationLine, ReconciliationRun

REPORT_COLUMNS = (
    "position", "outcomes", "is_break", "reference", "key", "currency", "our_amount", "their_amount", "difference",
    "our_date", "their_date", "date_delta_days", "our_status", "their_status", "our_source", "their_source",
    "break_status", "reason_code", "assignee",
)  # fmt: skip
PDF_BREAK_LIMIT = 2000


def report_rows(run: ReconciliationRun) -> Iterator[list[Any]]:
    """Every line of the run, in order, with its break's state (CSV cells; see REPORT_COLUMNS)."""
    lines = ReconciliationLine.objects.filter(run=run).select_related("break_row").order_by("position")
    for line in lines.iterator(chunk_size=2000):
        brk: ReconciliationBreak | None = getattr(line, "break_row", None) if line.is_break else None
        yield [
            line.position, " ".join(line.outcome_list), line.is_break, line.reference, line.key, line.currency,
            line.our_amount, line.their_amount, line.difference, line.our_date, line.their_date,
            line.date_delta_days, line.our_status, line.their_status, line.our_source, line.their_source,
            brk.status if brk else "", brk.reason_code if brk else "", brk.assignee if brk else "",
        ]  # fmt: skip


def _text(value: Any) -> str:
    # The core PDF fonts are Latin-1: anything else is shown as "?" rather than refused.
    return ("" if value is None else str(value)).encode("latin-1", "replace").decode("latin-1")


def report_pdf(run: ReconciliationRun) -> bytes:
    """The run's summary and its breaks as a PDF document."""
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _text(f"Reconciliation: {run.get_kind_display()}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    period = f"{run.period_start or ''} to {run.period_end or ''}" if run.period_start else "-"
    for label, value in [
        ("Run", run.public_id),
        ("Counterparty", run.counterparty_name or run.counterparty),
        ("Statement", run.statement_name or run.statement_key),
        ("Period", period),
        ("Tolerance", run.tolerance),
        ("Recorded", f"{run.created_at:%Y-%m-%d %H:%M} UTC by {run.started_by or 'system'}"),
        ("Lines / breaks", f"{run.line_count} / {run.break_count}"),
        ("By class", ", ".join(f"{k}: {v}" for k, v in run.summary.items()) or "-"),
    ]:
        pdf.cell(35, 5, _text(label))
        pdf.cell(0, 5, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = (12, 48, 40, 40, 14, 24, 24, 22, 22, 24)
    header = ("#", "classes", "reference", "key / source", "cur", "ours", "theirs", "difference", "status", "reason")
    pdf.set_font("Helvetica", "B", 8)
    for width, name in zip(widths, header, strict=True):
        pdf.cell(width, 5, name, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 7)
    breaks = run.breaks.select_related("line").order_by("line__position")
    for brk in breaks[:PDF_BREAK_LIMIT]:
        line = brk.line
        cells = (
            line.position, " ".join(line.outcome_list), line.reference, line.our_source or line.their_source,
            line.currency, line.our_amount, line.their_amount, line.difference, brk.status, brk.reason_code,
        )  # fmt: skip
        for width, value in zip(widths, cells, strict=True):
            pdf.cell(width, 4.5, _text(value)[: int(width * 0.6)], border=1)
        pdf.ln()
    if run.break_count > PDF_BREAK_LIMIT:
        pdf.ln(2)
        pdf.cell(0, 5, f"... and {run.break_count - PDF_BREAK_LIMIT} more breaks: see the CSV report.")
    return bytes(pdf.output())
