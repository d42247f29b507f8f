"""Party pages: each party's own view of the deal (what happens next, the tracker, the timeline,
the statement), the decisions they may take, paying what is due, and the PDF statement.

Every write calls the same service the API calls, with the signed-in user as the actor: the
services decide who may do what (docs/decisions/0502), the page only hides buttons nobody may use.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from escrow_project.common.display import format_money
from escrow_project.common.errors import DomainError, NotFoundError, UnprocessableError
from identity.selectors import organization_ids_for_user
from ledger import selectors as ledger_selectors
from transactions import party_page, selectors, services
from transactions.models import DepositKind, EscrowTransaction
from transactions.services import parties
from transactions.services._common import SUBJECT_TYPE
from verifications import selectors as verification_selectors

LOGIN_URL = "/escrow/login/"


def _viewer(request: HttpRequest, public_id: Any) -> tuple[EscrowTransaction, list[str]]:
    try:
        return selectors.escrow_get_for_viewer(user=request.user, public_id=public_id)
    except NotFoundError:
        raise Http404("No such escrow transaction.") from None


def _party(request: HttpRequest, public_id: Any) -> tuple[EscrowTransaction, list[str]]:
    """A party (or an operator) only: a verifier reads the page but takes no party's step."""
    txn, roles = _viewer(request, public_id)
    if roles == [parties.VERIFIER]:
        raise Http404("No such escrow transaction.")
    return txn, roles


@login_required(login_url=LOGIN_URL)
def transaction_list(request: HttpRequest) -> HttpResponse:
    transactions = list(selectors.escrow_list_for_viewer(user=request.user).order_by("-created_at")[:100])
    orgs = organization_ids_for_user(request.user)
    my_tasks = verification_selectors.task_list_for_agent(user=request.user).filter(agent_id__in=orgs)
    verifying = set(my_tasks.values_list("workflow_id", flat=True))  # one query, not one per deal
    rows = []
    for txn in transactions:
        roles = parties.party_roles(request.user, txn, verifiers=False, orgs=orgs)
        if txn.workflow_id in verifying:
            roles.append(parties.VERIFIER)
        rows.append(
            {
                "txn": txn,
                "role": party_page.ROLE_LABELS[(roles or ["operator"])[0]],
                "status": party_page.STATUS_TEXT.get(txn.status, txn.get_status_display()),
            }
        )
    return render(request, "transactions/list.html", {"rows": rows, "has_tasks": bool(verifying)})


def _actions(
    txn: EscrowTransaction, roles: list[str], tasks: list[Any], user: Any, *, verifier_only: bool
) -> list[Any]:
    """A verifier reads only what waits for them: other people's steps carry the deal's money."""
    actions = party_page.actions_for(txn, roles, tasks, user)
    if not verifier_only:
        return actions
    return [a for a in actions if a.you] or [party_page.Action("Nobody", "Nothing waits for you on this deal now.")]


def _page_context(request: HttpRequest, txn: EscrowTransaction, roles: list[str]) -> dict[str, Any]:
    tasks = list(verification_selectors.workflow_tasks(workflow_id=txn.workflow_id)) if txn.workflow_id else []
    verifier_only = roles == [parties.VERIFIER]
    mine = organization_ids_for_user(request.user) if verifier_only else None
    role = roles[0]
    return {
        "txn": txn,
        "role": role,
        "role_label": party_page.ROLE_LABELS[role],
        "verifier_only": verifier_only,
        "status_text": party_page.STATUS_TEXT.get(txn.status, txn.get_status_display()),
        "actions": _actions(txn, roles, tasks, request.user, verifier_only=verifier_only),
        "your_part": party_page.your_part(txn, roles),
        "steps": party_page.tracker(txn),
        "tasks": party_page.tasks_view(tasks, only_orgs=mine),
        "people": party_page.people(txn),
        "price": format_money(txn.purchase_price, txn.currency),
        "earnest": format_money(txn.earnest_money, txn.currency),
        "loan": format_money(txn.loan_amount, txn.currency) if txn.loan_amount else "",
        "timeline": [] if verifier_only else party_page.timeline(request.user, txn),
        "milestones": [] if verifier_only else party_page.milestones_view(txn),
        "payments": [] if verifier_only else party_page.payments_view(txn),
        "statement": None if verifier_only else party_page.statement_view(txn),
        "disputes": [] if verifier_only else list(txn.disputes.all()),
        "may_dispute": party_page.may_dispute(txn, roles),
        "sandbox": settings.PAYMENT_RAIL == "simulated",
    }


@login_required(login_url=LOGIN_URL)
def transaction_status(request: HttpRequest, public_id: str) -> HttpResponse:
    txn, roles = _viewer(request, public_id)
    return render(request, "transactions/status.html", _page_context(request, txn, roles))


def _refused(request: HttpRequest, txn: EscrowTransaction, roles: list[str], exc: DomainError) -> HttpResponse:
    """The page again with the refusal on it, and the refusal's own status (403, 409, 422)."""
    messages.error(request, exc.detail)
    return render(request, "transactions/status.html", _page_context(request, txn, roles), status=exc.status)


@require_POST
@login_required(login_url=LOGIN_URL)
def transaction_decide(request: HttpRequest, public_id: str) -> HttpResponse:
    """A party's step on the page: open, accept findings, new agent, new price, close, or cancel."""
    txn, roles = _party(request, public_id)
    decision = request.POST.get("decision", "")
    kind = request.POST.get("target", "")  # the verification type, or the dispute's id
    try:
        if decision == "waive":
            services.escrow_waive(transaction_id=txn.pk, verification_type=kind, actor=request.user)
            done = "You accepted the findings; the verifications go on."
        elif decision == "reassign":
            services.escrow_task_reassign(transaction_id=txn.pk, verification_type=kind, actor=request.user)
            done = "Another agent was asked; the new deadline is on the page."
        elif decision == "renegotiate":
            services.escrow_renegotiate(
                transaction_id=txn.pk,
                actor=request.user,
                purchase_price=request.POST.get("purchase_price", ""),
                redo=kind or None,
            )
            done = "The new price is recorded; the verification is done again against it."
        elif decision == "open":
            services.escrow_open(transaction_id=txn.pk, actor=request.user)
            done = "The escrow is open; the buyer is asked for the earnest money."
        elif decision == "settle":
            services.settlement_execute(transaction_id=txn.pk, actor=request.user)
            done = "Closing started: everyone on the statement is being paid."
        elif decision in ("release", "refund", "dismiss"):
            dispute = selectors.dispute_get_for_party(user=request.user, public_id=kind)
            if dispute.transaction_id != txn.pk:
                raise NotFoundError("No such dispute.")
            if decision == "dismiss":
                services.dispute_dismiss(dispute_id=dispute.pk, actor=request.user, note=request.POST.get("note", ""))
                done = "The dispute is dismissed; the deal goes on where it was."
            else:
                services.dispute_resolve(dispute_id=dispute.pk, actor=request.user, resolution=decision)
                done = "The dispute is resolved; the money is on its way."
        elif decision == "cancel":
            services.escrow_cancel(
                transaction_id=txn.pk, actor=request.user, reason=request.POST.get("reason", "")[:300]
            )
            done = "The escrow is cancelled; what remains goes back to who paid it."
        else:
            raise UnprocessableError("Choose one of the decisions on the page.", code="malformed_request")
    except DomainError as exc:
        return _refused(request, txn, roles, exc)
    messages.success(request, done)
    return redirect("escrow-page-status", public_id=txn.public_id)


@require_POST
@login_required(login_url=LOGIN_URL)
def transaction_dispute(request: HttpRequest, public_id: str) -> HttpResponse:
    txn, roles = _party(request, public_id)
    try:
        services.dispute_raise(transaction_id=txn.pk, raised_by=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _refused(request, txn, roles, exc)
    messages.success(request, "Your dispute is recorded; payments are on hold until the escrow officer resolves it.")
    return redirect("escrow-page-status", public_id=txn.public_id)


def _secret_key(payment_id: Any) -> str:
    return f"escrow-pay-secret:{payment_id}"


@require_POST
@login_required(login_url=LOGIN_URL)
def payment_start(request: HttpRequest, public_id: str) -> HttpResponse:
    """Open the payment of what is due (the amount is the platform's, never the payer's)."""
    txn, roles = _party(request, public_id)
    try:
        payment, secret = services.payment_in_start(
            transaction_id=txn.pk, kind=request.POST.get("kind", ""), actor=request.user
        )
    except DomainError as exc:
        return _refused(request, txn, roles, exc)
    # The secret completes the payment at the rail: kept in the signed-in session, never in a URL.
    request.session[_secret_key(payment.public_id)] = secret
    return redirect("escrow-page-payment", public_id=txn.public_id, payment_id=payment.public_id)


def _rail_payment(txn: EscrowTransaction, payment_id: Any) -> Any:
    try:
        return ledger_selectors.rail_payment_get(
            public_id=payment_id, subject_type=SUBJECT_TYPE, subject_id=str(txn.public_id)
        )
    except NotFoundError:
        raise Http404("No such payment.") from None


@login_required(login_url=LOGIN_URL)
def payment_page(request: HttpRequest, public_id: str, payment_id: uuid.UUID) -> HttpResponse:
    txn, _ = _party(request, public_id)
    payment = _rail_payment(txn, payment_id)
    return render(
        request,
        "transactions/payment.html",
        {
            "txn": txn,
            "payment": payment,
            "amount": format_money(payment.amount, payment.currency),
            "what": dict(DepositKind.choices).get(payment.purpose, payment.purpose),
            "paid": payment.status == "succeeded",
            "sandbox": settings.PAYMENT_RAIL == "simulated",
            "can_pay": _secret_key(payment.public_id) in request.session and payment.status != "succeeded",
        },
    )


@require_POST
@login_required(login_url=LOGIN_URL)
def payment_sandbox_pay(request: HttpRequest, public_id: str, payment_id: uuid.UUID) -> HttpResponse:
    """The sandbox payer, the embedded default's stand-in for Stripe.js (simulated rail only)."""
    from ledger import services as ledger

    txn, _ = _party(request, public_id)
    payment = _rail_payment(txn, payment_id)
    secret = request.session.get(_secret_key(payment.public_id))
    if settings.PAYMENT_RAIL != "simulated" or not secret:
        raise Http404("Nothing to pay here.")
    card = (request.POST.get("card_number") or "").replace(" ", "")[:19]
    try:
        paid = ledger.sandbox_payment_pay(client_secret=secret, card_number=card)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("escrow-page-payment", public_id=txn.public_id, payment_id=payment.public_id)
    if paid.status != "succeeded":
        messages.error(request, paid.failure_reason or "The payment did not go through.")
        return redirect("escrow-page-payment", public_id=txn.public_id, payment_id=payment.public_id)
    messages.success(request, f"Paid {format_money(paid.amount, paid.currency)}. Thank you.")
    return redirect(reverse("escrow-page-status", args=[txn.public_id]))


@login_required(login_url=LOGIN_URL)
def statement_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    """The settlement statement as a PDF, with the parties and signature lines (from clear to close)."""
    from transactions.statement_pdf import statement_pdf_bytes

    txn, _ = _party(request, public_id)
    statement = party_page.statement_view(txn)
    if statement is None:
        raise Http404("The settlement statement is drawn up at clear to close.")
    pdf = statement_pdf_bytes(txn=txn, statement=statement, people=party_page.people(txn))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="settlement-{txn.reference}.pdf"'
    return response
