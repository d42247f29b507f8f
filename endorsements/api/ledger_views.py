"""Employer-facing views of their Endorsement Accounts: balance, top-up, history.

They live here (not in the ledger app) because what an employer may see and how a top-up wakes
parked endorsements are endorsement rules; the ledger stays the only writer of money.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from endorsements import funds, selectors
from endorsements.models import EndorsementAccount
from endorsements.services.funding import ea_topup_pay
from escrow_project.common.amounts import AmountField
from escrow_project.common.errors import DomainError, NotFoundError
from escrow_project.common.idempotency import HEADER, idempotent
from escrow_project.common.money import MINOR_UNITS, format_amount
from escrow_project.common.pagination import LinkHeaderPagination


class EndorsementAccountTopupSerializer(serializers.Serializer[Any]):
    amount = AmountField()
    currency = serializers.ChoiceField(choices=sorted(MINOR_UNITS))
    employer = serializers.UUIDField(required=False)


class EndorsementAccountRowSerializer(serializers.Serializer[Any]):
    employer = serializers.UUIDField()
    currency = serializers.CharField()
    balance = serializers.CharField(help_text="with the currency's decimals")
    locked = serializers.CharField(help_text="with the currency's decimals")
    available = serializers.CharField(help_text="with the currency's decimals")
    parked = serializers.CharField(help_text="waiting for funds (not locked), with the currency's decimals")
    parked_count = serializers.IntegerField(help_text="endorsements waiting for funds")


class EndorsementAccountBalancesSerializer(serializers.Serializer[Any]):
    accounts = EndorsementAccountRowSerializer(many=True)


class TopupPaymentSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(help_text="the payment in at the rail")
    rail = serializers.CharField()
    reference = serializers.CharField(help_text="the rail's id (Stripe: the PaymentIntent)")
    status = serializers.CharField()
    client_secret = serializers.CharField(help_text="completes the payment: Stripe.js, or the sandbox payer")


class EndorsementAccountTopupResultSerializer(serializers.Serializer[Any]):
    account = EndorsementAccountRowSerializer(
        allow_null=True, help_text="null until the first credit opens the account"
    )
    payment = TopupPaymentSerializer()
    woken = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True, help_text="null until the rail confirms the payment"
    )


class EndorsementAccountHistoryLineSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    side = serializers.CharField()
    amount = serializers.CharField(help_text="with the currency's decimals")
    currency = serializers.CharField()
    description = serializers.CharField()
    balance_after = serializers.CharField(help_text="with the currency's decimals")


class EndorsementAccountHistoryPageSerializer(serializers.Serializer[Any]):
    """One page of the history, as LinkHeaderPagination answers it (also linked in `Link`)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = EndorsementAccountHistoryLineSerializer(many=True)


def _account_rows(eas: list[EndorsementAccount]) -> list[dict[str, Any]]:
    rows = []
    for ea in eas:
        summary = funds.balance_summary(ea)
        parked, parked_count = selectors.parked_totals(employer_id=ea.employer_id, currency=ea.currency)
        rows.append(
            {
                "employer": str(ea.employer.public_id),
                "currency": ea.currency,
                "balance": format_amount(summary["balance"], ea.currency),
                "locked": format_amount(summary["locked"], ea.currency),
                "available": format_amount(summary["available"], ea.currency),
                "parked": format_amount(parked, ea.currency),
                "parked_count": parked_count,
            }
        )
    return rows


class LedgerBalanceView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = EndorsementAccountBalancesSerializer

    def get(self, request: Request) -> Response:
        employer = selectors.employer_for_user(
            user=request.user, employer_public_id=request.query_params.get("employer")
        )
        eas = list(
            EndorsementAccount.objects.filter(employer=employer)
            .exclude(ledger_account_id="")
            .select_related("employer")
            .order_by("currency")
        )
        return Response({"accounts": _account_rows(eas)})


class LedgerTopupView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = EndorsementAccountTopupSerializer

    @extend_schema(
        request=EndorsementAccountTopupSerializer,
        responses={201: EndorsementAccountTopupResultSerializer, 202: EndorsementAccountTopupResultSerializer},
        description="Pays money into the Endorsement Account at the payment rail. 202: pay with "
        "`payment.client_secret` (Stripe.js; on the embedded default `POST /api/v1/sandbox/payments/pay`); the EA "
        "is credited when the rail confirms (Stripe's webhook), never on this request's word. 201: it already was.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        if not request.headers.get(HEADER):
            raise DomainError("A top-up needs an Idempotency-Key header.", code="idempotency_key_required")
        body = EndorsementAccountTopupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        employer = selectors.employer_for_user(
            user=request.user, employer_public_id=body.validated_data.get("employer")
        )
        currency = body.validated_data["currency"]
        paid = ea_topup_pay(
            employer=employer,
            amount=body.validated_data["amount"],
            currency=currency,
            idempotency_key=request.headers[HEADER],
        )
        ea = EndorsementAccount.objects.select_related("employer").filter(employer=employer, currency=currency).first()
        payment = paid.payment
        body_out = {
            "account": _account_rows([ea])[0] if ea and ea.ledger_account_id else None,
            "payment": {
                "id": payment.public_id,
                "rail": payment.rail,
                "reference": payment.reference,
                "status": payment.status,
                "client_secret": paid.client_secret,
            },
            "woken": {"locked": paid.woken.locked, "still_parked": paid.woken.parked} if paid.woken else None,
        }
        return Response(body_out, status=status.HTTP_201_CREATED if paid.woken else status.HTTP_202_ACCEPTED)


class LedgerHistoryView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = EndorsementAccountHistoryLineSerializer

    @extend_schema(responses=EndorsementAccountHistoryPageSerializer)
    def get(self, request: Request) -> Response:
        from ledger import selectors as ledger_selectors

        employer = selectors.employer_for_user(
            user=request.user, employer_public_id=request.query_params.get("employer")
        )
        currency = request.query_params.get("currency")
        eas = EndorsementAccount.objects.filter(employer=employer).exclude(ledger_account_id="")
        ea = eas.filter(currency=currency).first() if currency else (eas.first() if eas.count() == 1 else None)
        if ea is None:
            raise NotFoundError("No Endorsement Account in that currency; pass ?currency=.", code="account_not_found")
        lines = ledger_selectors.account_history(account_id=int(ea.ledger_account_id)).select_related("entry")
        paginator = LinkHeaderPagination()
        page = paginator.paginate_queryset(lines, request, view=self) or []
        data = [
            {
                "at": line.created_at.isoformat(),
                "side": line.side,
                "amount": format_amount(line.amount, ea.currency),
                "currency": ea.currency,
                "description": getattr(line.entry, "description", ""),
                "balance_after": format_amount(ledger_selectors.line_balance_after(line, "credit"), ea.currency),
            }
            for line in page
        ]
        return paginator.get_paginated_response(data)


class ForecastPointSerializer(serializers.Serializer[Any]):
    day = serializers.IntegerField(help_text="days from today")
    left = serializers.CharField(help_text="projected balance left after what waits (negative: short)")


class EndorsementAccountForecastSerializer(serializers.Serializer[Any]):
    employer = serializers.UUIDField()
    currency = serializers.CharField()
    balance = serializers.CharField()
    locked = serializers.CharField()
    available = serializers.CharField()
    parked = serializers.CharField(help_text="debits waiting for funds")
    parked_count = serializers.IntegerField()
    pending = serializers.CharField(help_text="debits received but not yet funded or parked")
    daily_spend = serializers.CharField(help_text="usual net spending per day (last 30 days)")
    annual_premium = serializers.CharField(help_text="yearly premium of the members covered now")
    floor = serializers.CharField(help_text="balance to keep above what waits (floor_percent of annual premium)")
    floor_percent = serializers.IntegerField()
    needed_to_clear = serializers.CharField(help_text="to top up now so nothing waits for funds")
    recommended_topup = serializers.CharField(help_text="what waits + cover_days of usual spending + floor - available")
    cover_days = serializers.IntegerField()
    days_until_exhausted = serializers.IntegerField(
        allow_null=True, help_text="0: already short; null: nothing is spent at the usual pace"
    )
    runs_out_on = serializers.DateField(allow_null=True)
    running_low = serializers.BooleanField(help_text="runs dry within low_balance_days: HR is warned")
    low_balance_days = serializers.IntegerField()
    projection = ForecastPointSerializer(many=True)


def forecast_body(ea: EndorsementAccount) -> dict[str, Any]:
    from endorsements.services.forecast import ea_forecast

    f = ea_forecast(ea=ea)

    def money(minor: int) -> str:
        return format_amount(f.amount(minor), f.currency)

    return {
        "employer": str(ea.employer.public_id),
        "currency": f.currency,
        **{
            name: money(getattr(f, name))
            for name in (
                "balance",
                "locked",
                "available",
                "parked",
                "pending",
                "daily_spend",
                "annual_premium",
                "floor",
                "needed_to_clear",
                "recommended_topup",
            )
        },
        "parked_count": f.parked_count,
        "floor_percent": f.floor_percent,
        "cover_days": f.cover_days,
        "days_until_exhausted": f.days_until_exhausted,
        "runs_out_on": f.runs_out_on,
        "running_low": f.running_low,
        "low_balance_days": f.low_balance_days,
        "projection": [{"day": day, "left": money(left)} for day, left in f.projection],
    }


class LedgerForecastView(APIView):
    """When the Endorsement Account runs dry at the usual pace, and what to top up."""

    permission_classes = [IsAuthenticated]
    serializer_class = EndorsementAccountForecastSerializer

    def get(self, request: Request) -> Response:
        employer = selectors.employer_for_user(
            user=request.user, employer_public_id=request.query_params.get("employer")
        )
        currency = request.query_params.get("currency")
        eas = EndorsementAccount.objects.filter(employer=employer).select_related("employer")
        ea = eas.filter(currency=currency).first() if currency else (eas.first() if eas.count() == 1 else None)
        if ea is None:
            raise NotFoundError("No Endorsement Account in that currency; pass ?currency=.", code="account_not_found")
        return Response(EndorsementAccountForecastSerializer(forecast_body(ea)).data)
