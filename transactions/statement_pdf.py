"""The settlement statement as a PDF (WeasyPrint): the parties, the ALTA-style table, signature lines."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from escrow_project.common.display import format_day, format_money, format_when
from transactions.models import EscrowTransaction


def statement_pdf_bytes(*, txn: EscrowTransaction, statement: dict[str, Any], people: list[tuple[str, str]]) -> bytes:
    """Render the statement page to PDF bytes (fonts from the system's fontconfig; no network)."""
    from weasyprint import HTML  # imported here: it loads Pango, which the rest of the process never needs

    html = render_to_string(
        "transactions/statement_pdf.html",
        {
            "txn": txn,
            "statement": statement,
            "people": people,
            "price": format_money(txn.purchase_price, txn.currency),
            "closing": format_day(txn.closing_date),
            "printed": format_when(timezone.now()),
            "signers": [label for label, _ in people if label in ("Buyer", "Seller", "Escrow officer")],
        },
    )
    return bytes(HTML(string=html).write_pdf())
