"""The employer's HR pages: the endorsement account, its forecast, requests, files, top-ups, messages.

Server-rendered; only the employer's own HR staff may open them (anyone else, operators included,
gets a 404 from `selectors.employer_for_hr_page`, so no page can forget the check).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from endorsements import funds, selectors
from endorsements.forms import NOTIFICATION_CHANNELS, NOTIFICATION_KINDS, BatchUploadForm, TopupForm
from endorsements.models import Batch, BatchRow, EndorsementAccount, EndorsementKind
from endorsements.services.batches import batch_upload
from endorsements.services.forecast import Forecast, ea_forecast
from endorsements.services.funding import TOPUP_SUBJECT, ea_topup_pay
from endorsements.states import RequestState
from escrow_project.common.csv_safe import csv_response
from escrow_project.common.errors import DomainError, NotFoundError
from escrow_project.common.money import format_amount
from identity.models import Organization

LOGIN_URL = "/employer/login/"
PAGE_SIZE = 50
# What the HR manager reads for each request state.
STATE_WORDS = {
    RequestState.RECEIVED: "Received",
    RequestState.VALIDATED: "Checked",
    RequestState.ON_HOLD_FUNDS: "Waiting for funds",
    RequestState.FUND_LOCKED: "Paid for, waiting to be sent",
    RequestState.SENT: "Sent to the insurer",
    RequestState.CONFIRMED: "Accepted by the insurer",
    RequestState.ACTIVE: "In force",
    RequestState.REJECTED: "Refused by the insurer",
    RequestState.FAILED: "Failed",
    RequestState.DEAD_LETTER: "Delayed: insurer unreachable",
    RequestState.CANCELLED: "Cancelled",
}
FINISHED = (Batch.Status.COMPLETED, Batch.Status.FAILED, Batch.Status.HELD, Batch.Status.REJECTED)


def _employer(request: HttpRequest, employer_id: Any) -> Organization:
    try:
        return selectors.employer_for_hr_page(user=request.user, employer_public_id=employer_id)
    except NotFoundError:
        raise Http404("No such employer.") from None


def _accounts(employer: Organization) -> list[EndorsementAccount]:
    return list(
        EndorsementAccount.objects.filter(employer=employer)
        .exclude(ledger_account_id="")
        .select_related("employer")
        .order_by("currency")
    )


def _currencies(employer: Organization) -> list[str]:
    from endorsements.models import GroupPolicy

    return sorted(set(GroupPolicy.objects.filter(employer=employer, is_active=True).values_list("currency", flat=True)))


def _context(request: HttpRequest, employer: Organization, section: str, **extra: Any) -> dict[str, Any]:
    return {"employer": employer, "section": section, **extra}


@login_required(login_url=LOGIN_URL)
def home(request: HttpRequest) -> HttpResponse:
    """Straight to the employer's own pages (the first, for someone who acts for several)."""
    ids = selectors.employer_ids_for_user(request.user)
    employer = Organization.objects.filter(pk__in=ids, is_active=True).order_by("name").first()
    if employer is None:
        raise Http404("These pages are for an employer's HR staff.")
    return redirect("employer-dashboard", employer_id=employer.public_id)


def _money(amount: Decimal | int, currency: str, *, minor: bool = False) -> str:
    if minor:
        from escrow_project.common.money import Money

        amount = Money.from_minor(int(amount), currency).amount
    return f"{format_amount(Decimal(amount), currency)} {currency}"


def _chart(f: Forecast) -> dict[str, Any]:
    """An inline SVG line of the projected balance left after what waits, with the floor and zero."""
    width, height, pad = 600, 200, 28
    values = [left for _, left in f.projection] + [f.floor, 0]
    top, bottom = max(values), min(values)
    span = (top - bottom) or 1
    last_day = f.projection[-1][0] if f.projection else 1

    def x(day: int) -> float:
        return round(pad + (width - 2 * pad) * day / (last_day or 1), 1)

    def y(value: int) -> float:
        return round(pad + (height - 2 * pad) * (top - value) / span, 1)

    return {
        "width": width,
        "height": height,
        "points": " ".join(f"{x(d)},{y(v)}" for d, v in f.projection),
        "zero_y": y(0),
        "floor_y": y(f.floor),
        "left_x": pad,
        "right_x": width - pad,
        "last_day": last_day,
        "top_label": _money(top, f.currency, minor=True),
        "bottom_label": _money(bottom, f.currency, minor=True),
    }


def _forecast_view(f: Forecast) -> dict[str, Any]:
    def m(value: int) -> str:
        return _money(value, f.currency, minor=True)

    return {
        "currency": f.currency,
        "balance": m(f.balance),
        "locked": m(f.locked),
        "available": m(f.available),
        "parked": m(f.parked),
        "parked_count": f.parked_count,
        "pending": m(f.pending),
        "daily_spend": m(f.daily_spend),
        "floor": m(f.floor),
        "floor_percent": f.floor_percent,
        "needed_to_clear": m(f.needed_to_clear),
        "needs_money_now": f.needed_to_clear > 0,
        "recommended_topup": m(f.recommended_topup),
        "recommended_amount": str(f.amount(f.recommended_topup)),
        "cover_days": f.cover_days,
        "days": f.days_until_exhausted,
        "runs_out_on": f.runs_out_on,
        "running_low": f.running_low,
        "chart": _chart(f),
    }


@login_required(login_url=LOGIN_URL)
def dashboard(request: HttpRequest, employer_id: uuid.UUID) -> HttpResponse:
    employer = _employer(request, employer_id)
    forecasts = [_forecast_view(ea_forecast(ea=ea)) for ea in _accounts(employer)]
    counts = selectors.request_counts_by_state(employer=employer)
    states = [(s, STATE_WORDS[RequestState(s)], counts.get(s, 0)) for s in RequestState.values if counts.get(s)]
    held = selectors.batches_for_employer(employer=employer).filter(status=Batch.Status.HELD)
    return render(
        request,
        "endorsements/dashboard.html",
        _context(
            request,
            employer,
            "dashboard",
            forecasts=forecasts,
            states=states,
            held=list(held[:10]),
            recent=list(selectors.batches_for_employer(employer=employer)[:5]),
        ),
    )


@login_required(login_url=LOGIN_URL)
def request_list(request: HttpRequest, employer_id: uuid.UUID) -> HttpResponse:
    employer = _employer(request, employer_id)
    state = request.GET.get("state", "")
    kind = request.GET.get("kind", "")
    search = request.GET.get("q", "")[:100]
    if state not in RequestState.values:
        state = ""
    if kind not in EndorsementKind.values:
        kind = ""
    qs = selectors.requests_for_employer(employer=employer, state=state, kind=kind, member_or_reference=search)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "tracking_id": r.tracking_id,
            "kind": r.get_kind_display(),
            "state": STATE_WORDS[RequestState(r.state)],
            "state_code": r.state,
            "member": r.member.person_name,
            "member_id": r.member.member_id,
            "plan": r.new_plan or r.plan,
            "effective_date": r.effective_date,
            "amount": _money(r.amount, r.currency),
            "direction": "Refund" if r.direction == "credit" else "Charge",
            "reason": r.rejection_reason or (r.last_error if r.state == RequestState.FAILED else ""),
        }
        for r in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "endorsements/requests.html",
        _context(
            request,
            employer,
            "requests",
            rows=rows,
            page=page,
            query=query.urlencode(),
            state=state,
            kind=kind,
            search=search,
            states=[(s, STATE_WORDS[RequestState(s)]) for s in RequestState.values],
            kinds=EndorsementKind.choices,
        ),
    )


@login_required(login_url=LOGIN_URL)
def parked(request: HttpRequest, employer_id: uuid.UUID) -> HttpResponse:
    employer = _employer(request, employer_id)
    queues = []
    for ea in _accounts(employer):
        available = funds.available(ea)
        queue = selectors.parked_queue(employer=employer, currency=ea.currency, available=available)
        queues.append(
            {
                "currency": ea.currency,
                "available": _money(available, ea.currency),
                "rows": [
                    {
                        "position": n,
                        "tracking_id": r.tracking_id,
                        "member": r.member.person_name,
                        "kind": r.get_kind_display(),
                        "effective_date": r.effective_date,
                        "amount": _money(r.amount, r.currency),
                        "needs": _money(need, r.currency),
                        "needs_more": need > 0,
                        "waiting_since": r.parked_at,
                    }
                    for n, (r, need) in enumerate(queue, start=1)
                ],
            }
        )
    return render(request, "endorsements/parked.html", _context(request, employer, "parked", queues=queues))


@login_required(login_url=LOGIN_URL)
def files(request: HttpRequest, employer_id: uuid.UUID) -> HttpResponse:
    employer = _employer(request, employer_id)
    form = BatchUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            uploaded = batch_upload(employer=employer, user=request.user, upload=form.cleaned_data["file"])  # type: ignore[arg-type]
        except DomainError as exc:
            form.add_error("file", exc.detail)
        else:
            if uploaded.repeated:
                messages.info(request, "You uploaded this file before. These are the results of that upload.")
            return redirect("employer-batch", employer_id=employer.public_id, batch_id=uploaded.batch.public_id)
    batches = list(selectors.batches_for_employer(employer=employer)[:20])
    return render(
        request,
        "endorsements/files.html",
        _context(request, employer, "files", form=form, batches=batches),
        status=422 if form.errors else 200,
    )


def _progress(batch: Batch) -> dict[str, Any]:
    return {
        "status": batch.status,
        "status_words": batch.get_status_display(),
        "finished": batch.status in FINISHED,
        "rows_done": batch.rows_processed,
        "rows_total": batch.rows_total,
        "percent": batch.percent_done,
        "accepted": batch.rows_accepted,
        "rejected": batch.rows_rejected,
        "duplicate": batch.rows_duplicate,
    }


@login_required(login_url=LOGIN_URL)
def batch_detail(request: HttpRequest, employer_id: uuid.UUID, batch_id: uuid.UUID) -> HttpResponse:
    employer = _employer(request, employer_id)
    batch = _batch(employer, batch_id)
    show = request.GET.get("show", "problems")
    rows = selectors.batch_rows(batch=batch)
    if show == "problems":
        rows = rows.exclude(outcome=BatchRow.Outcome.ACCEPTED)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "endorsements/batch.html",
        _context(request, employer, "files", batch=batch, progress=_progress(batch), page=page, show=show),
    )


def _batch(employer: Organization, batch_id: Any) -> Batch:
    try:
        return selectors.batch_for_employer(employer=employer, public_id=batch_id)
    except NotFoundError:
        raise Http404("No such file.") from None


@login_required(login_url=LOGIN_URL)
def batch_progress(request: HttpRequest, employer_id: uuid.UUID, batch_id: uuid.UUID) -> JsonResponse:
    """Polled by the file's page while it is processed."""
    employer = _employer(request, employer_id)
    response = JsonResponse(_progress(_batch(employer, batch_id)))
    response["Cache-Control"] = "no-store"
    return response


@login_required(login_url=LOGIN_URL)
def batch_results_csv(request: HttpRequest, employer_id: uuid.UUID, batch_id: uuid.UUID) -> StreamingHttpResponse:
    employer = _employer(request, employer_id)
    batch = _batch(employer, batch_id)
    header, lines = selectors.batch_rows_csv(batch=batch, outcome=request.GET.get("outcome") or None)
    stem = (batch.file_name.rsplit(".", 1)[0] or "file")[:60]
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
    return csv_response(f"{safe}-results.csv", header, lines)


@login_required(login_url=LOGIN_URL)
def topup(request: HttpRequest, employer_id: uuid.UUID) -> HttpResponse:
    employer = _employer(request, employer_id)
    currencies = _currencies(employer)
    initial = {"amount": request.GET.get("amount", ""), "idempotency_key": uuid.uuid4().hex}
    form = TopupForm(request.POST or None, currencies=currencies, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            paid = ea_topup_pay(
                employer=employer,
                amount=form.cleaned_data["amount"],
                currency=form.cleaned_data["currency"],
                idempotency_key=f"page:{request.user.pk}:{form.cleaned_data['idempotency_key']}",
            )
        except DomainError as exc:
            form.add_error("amount", exc.detail)
        else:
            # The secret completes the payment at the rail: kept in the signed-in session, never in a URL.
            request.session[f"topup-secret:{paid.payment.public_id}"] = paid.client_secret
            return redirect("employer-topup-payment", employer_id=employer.public_id, payment_id=paid.payment.public_id)
    return render(
        request,
        "endorsements/topup.html",
        _context(request, employer, "topup", form=form, accounts=_account_rows(employer)),
        status=422 if form.errors else 200,
    )


def _account_rows(employer: Organization) -> list[dict[str, str]]:
    rows = []
    for ea in _accounts(employer):
        summary = funds.balance_summary(ea)
        rows.append(
            {
                "currency": ea.currency,
                "balance": _money(summary["balance"], ea.currency),
                "available": _money(summary["available"], ea.currency),
            }
        )
    return rows


def _payment(employer: Organization, payment_id: Any) -> Any:
    from ledger.models import RailPayment

    payment = RailPayment.objects.filter(
        public_id=payment_id, subject_type=TOPUP_SUBJECT, subject_id=str(employer.public_id)
    ).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment


@login_required(login_url=LOGIN_URL)
def topup_payment(request: HttpRequest, employer_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    employer = _employer(request, employer_id)
    payment = _payment(employer, payment_id)
    return render(
        request,
        "endorsements/topup_payment.html",
        _context(
            request,
            employer,
            "topup",
            payment=payment,
            amount=_money(payment.amount, payment.currency),
            paid=payment.status == "succeeded",
            sandbox=settings.PAYMENT_RAIL == "simulated",
            can_pay=f"topup-secret:{payment.public_id}" in request.session and payment.status != "succeeded",
            accounts=_account_rows(employer),
            parked_left=len(_parked_ids(employer)),
        ),
    )


def _parked_ids(employer: Organization) -> list[int]:
    from endorsements.models import EndorsementRequest

    return list(
        EndorsementRequest.objects.filter(employer=employer, state=RequestState.ON_HOLD_FUNDS).values_list(
            "pk", flat=True
        )[:1000]
    )


@require_POST
@login_required(login_url=LOGIN_URL)
def topup_sandbox_pay(request: HttpRequest, employer_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    """The sandbox payer, as the embedded default's stand-in for Stripe.js (simulated rail only)."""
    from ledger import services as ledger

    employer = _employer(request, employer_id)
    payment = _payment(employer, payment_id)
    secret = request.session.get(f"topup-secret:{payment.public_id}")
    if settings.PAYMENT_RAIL != "simulated" or not secret:
        raise Http404("Nothing to pay here.")
    card = (request.POST.get("card_number") or "4242424242424242").replace(" ", "")[:19]
    try:
        paid = ledger.sandbox_payment_pay(client_secret=secret, card_number=card)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        if paid.status == "succeeded":
            messages.success(request, f"Paid {_money(paid.amount, paid.currency)} into your endorsement account.")
        else:
            messages.error(request, paid.failure_reason or "The payment did not go through.")
    return redirect(reverse("employer-topup-payment", args=[employer.public_id, payment.public_id]))


@login_required(login_url=LOGIN_URL)
def notification_settings(request: HttpRequest, employer_id: uuid.UUID) -> HttpResponse:
    """The signed-in person's own choices: which messages, by which channel."""
    from notifications.kinds import kind_essential
    from notifications.services import preference_resolve, preference_set

    employer = _employer(request, employer_id)
    user_id = request.user.pk
    if request.method == "POST":
        for kind, _ in NOTIFICATION_KINDS:
            for channel, _ in NOTIFICATION_CHANNELS:
                if kind_essential(kind, channel):
                    continue  # always sent (money, security, failures needing action): never turned off
                preference_set(
                    user_id=user_id, kind=kind, channel=channel, enabled=request.POST.get(f"{kind}:{channel}") == "on"
                )
        messages.success(request, "Your message settings are saved.")
        return redirect("employer-notifications", employer_id=employer.public_id)
    rows = [
        {
            "kind": kind,
            "words": words,
            "channels": [
                {
                    "name": f"{kind}:{channel}",
                    "label": label,
                    "on": preference_resolve(kind=kind, channel=channel, user_id=user_id, organization_id=None).enabled,
                    "locked": kind_essential(kind, channel),
                }
                for channel, label in NOTIFICATION_CHANNELS
            ],
        }
        for kind, words in NOTIFICATION_KINDS
    ]
    return render(
        request,
        "endorsements/notifications.html",
        _context(request, employer, "notifications", rows=rows, channels=NOTIFICATION_CHANNELS),
    )
