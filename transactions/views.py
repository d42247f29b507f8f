"""Party pages: a transaction's status and its printable settlement statement (parties only)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from escrow_project.common.errors import NotFoundError
from transactions import selectors
from transactions.models import Payment, SettlementStatement
from verifications import selectors as verification_selectors

LOGIN_URL = "/escrow/login/"


@login_required(login_url=LOGIN_URL)
def transaction_list(request: HttpRequest) -> HttpResponse:
    transactions = selectors.escrow_list_for_user(user=request.user).order_by("-created_at")[:100]
    return render(request, "transactions/list.html", {"transactions": transactions})


@login_required(login_url=LOGIN_URL)
def transaction_status(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        txn = selectors.escrow_get_for_party(user=request.user, public_id=public_id)
    except NotFoundError:
        raise Http404("No such escrow transaction.") from None
    tasks = verification_selectors.workflow_tasks(workflow_id=txn.workflow_id) if txn.workflow_id else []
    settlement = SettlementStatement.objects.filter(transaction=txn).first()
    statement = settlement.statement if settlement else None
    rows = []
    if statement:
        # One ALTA-style table: each line in the buyer's or the seller's debit/credit column.
        for side, column in (("buyer", "debit"), ("buyer", "credit"), ("seller", "debit"), ("seller", "credit")):
            for line in statement[f"{side}_{column}s"]:
                rows.append({"label": line["label"], "column": f"{side}_{column}", "amount": line["amount"]})
    context = {
        "txn": txn,
        "tasks": tasks,
        "milestones": txn.milestones.select_related("payee"),
        "payments": Payment.objects.filter(transaction=txn).select_related("payee"),
        "settlement": settlement,
        "statement": statement,
        "rows": rows,
        "disputes": txn.disputes.all(),
    }
    return render(request, "transactions/status.html", context)
