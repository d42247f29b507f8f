"""Ledger API: accounts the caller may see, balance, history; operator top-up, adjustment, reversal.

Money-moving POSTs require an `Idempotency-Key` header: it is both the HTTP replay key and (prefixed)
the ledger's own idempotency key, so a retried request can never move money twice.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escrow_project.common.errors import DomainError, NotFoundError
from escrow_project.common.idempotency import HEADER, idempotent
from identity.permissions import IsOperator
from ledger import selectors, services
from ledger.api.serializers import (
    AccountSerializer,
    AdjustmentSerializer,
    BalanceSerializer,
    EntrySerializer,
    HistoryLineSerializer,
    OperatorEntryRequestSerializer,
    ReverseSerializer,
    SandboxPaySerializer,
    TopUpSerializer,
)
from ledger.models import Account, JournalEntry, JournalLine, OperatorEntryRequest


def _ledger_key(request: Request, action: str) -> str:
    key = request.headers.get(HEADER)
    if not key:
        raise DomainError(f"This request moves money: send an {HEADER} header.", code="idempotency_key_required")
    # Namespaced by user, as the HTTP replay record is: two operators' keys never collide.
    return f"api:{action}:user:{request.user.pk}:{key}"


class AccountListView(generics.ListAPIView[Account]):
    serializer_class = AccountSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("owner_type", str),
            OpenApiParameter("owner_id", str),
            OpenApiParameter("purpose", str),
            OpenApiParameter("currency", str),
        ],
        summary="Ledger accounts the caller may see",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Account]:
        accounts = selectors.account_list_for_user(user=self.request.user)
        for name in ("owner_type", "owner_id", "purpose", "currency"):
            value = self.request.query_params.get(name)
            if value:
                accounts = accounts.filter(**{name: value})
        return accounts


class AccountDetailView(APIView):
    @extend_schema(responses=AccountSerializer, summary="One account with its balance")
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get_for_user(user=request.user, public_id=public_id)
        return Response(AccountSerializer(account).data)


class AccountBalanceView(APIView):
    @extend_schema(responses=BalanceSerializer, summary="Balance of an account (posted, pending, available)")
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get_for_user(user=request.user, public_id=public_id)
        return Response(BalanceSerializer(selectors.account_balance(account_id=account.pk)).data)


class AccountHistoryView(generics.ListAPIView[JournalLine]):
    serializer_class = HistoryLineSerializer

    @extend_schema(summary="Entries of an account, newest first, with the running balance")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def _account(self) -> Account:
        if not hasattr(self, "_cached_account"):
            self._cached_account = selectors.account_get_for_user(
                user=self.request.user, public_id=self.kwargs["public_id"]
            )
        return self._cached_account

    def get_queryset(self) -> QuerySet[JournalLine]:
        return selectors.account_history(account_id=self._account().pk)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "normal_side": self._account().normal_side}


class AccountTopUpView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        request=TopUpSerializer,
        responses={201: EntrySerializer, 202: OperatorEntryRequestSerializer},
        summary="Operator: record money received",
        description="Above LEDGER_FOUR_EYES_ABOVE the entry waits (202) for a second operator's approval.",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get_for_user(user=request.user, public_id=public_id)
        payload = TopUpSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        return _by_hand(request, "deposit", "topup", account, data.pop("amount"), data.pop("currency"), data)


class AccountAdjustmentView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        request=AdjustmentSerializer,
        responses={201: EntrySerializer, 202: OperatorEntryRequestSerializer},
        summary="Operator: reversible correction",
        description="Above LEDGER_FOUR_EYES_ABOVE the entry waits (202) for a second operator's approval.",
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get_for_user(user=request.user, public_id=public_id)
        payload = AdjustmentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        return _by_hand(request, "adjustment", "adjustment", account, data.pop("amount"), data.pop("currency"), data)


def _by_hand(
    request: Request, kind: str, action: str, account: Account, amount: Any, currency: str, details: dict[str, Any]
) -> Response:
    entry, pending = services.operator_entry_request(
        kind=kind,
        idempotency_key=_ledger_key(request, action),
        account_id=account.pk,
        amount=amount,
        currency=currency,
        details=details,
        actor=f"user:{request.user.pk}",
    )
    if pending is not None:
        return Response(OperatorEntryRequestSerializer(pending).data, status=status.HTTP_202_ACCEPTED)
    return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class OperatorEntryListView(generics.ListAPIView[OperatorEntryRequest]):
    """Money recorded by hand above the threshold, waiting for (or decided by) a second operator."""

    permission_classes = [IsOperator]
    serializer_class = OperatorEntryRequestSerializer

    def get_queryset(self) -> QuerySet[OperatorEntryRequest]:
        rows = OperatorEntryRequest.objects.select_related("account")
        wanted = self.request.query_params.get("status")
        return rows.filter(status=wanted) if wanted else rows


def _entry_request(public_id: str) -> OperatorEntryRequest:
    row = OperatorEntryRequest.objects.filter(public_id=public_id).first()
    if row is None:
        raise NotFoundError("No such request.")
    return row


class OperatorEntryApproveView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        request=None, responses={201: EntrySerializer}, summary="Operator: approve (the second pair of eyes)"
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        entry = services.operator_entry_approve(
            request_id=_entry_request(public_id).pk, actor=f"user:{request.user.pk}"
        )
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class OperatorEntryRejectView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=ReverseSerializer, responses=OperatorEntryRequestSerializer, summary="Operator: reject")
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        payload = ReverseSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.operator_entry_reject(
            request_id=_entry_request(public_id).pk,
            actor=f"user:{request.user.pk}",
            reason=payload.validated_data["reason"],
        )
        return Response(OperatorEntryRequestSerializer(row).data)


class EntryReverseView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=ReverseSerializer, responses={201: EntrySerializer}, summary="Operator: reverse an entry")
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        entry = JournalEntry.objects.filter(public_id=public_id).first()
        if entry is None:
            raise NotFoundError("No such entry.")
        payload = ReverseSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        reversal = services.entry_reverse(
            entry_id=entry.pk, idempotency_key=_ledger_key(request, "reverse"), reason=payload.validated_data["reason"]
        )
        return Response(EntrySerializer(reversal).data, status=status.HTTP_201_CREATED)


_WEBHOOK_ANSWER = {"type": "object", "properties": {"status": {"type": "string"}, "verdict": {"type": "string"}}}


class StripeWebhookView(APIView):
    """Stripe's signed events. Verified with the SDK against every configured secret (rotation);
    a timestamp outside the tolerance either way is refused; each event id is applied once."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    @extend_schema(
        summary="Stripe webhook (signed with Stripe-Signature)",
        request={"application/json": {"type": "object"}},
        responses={
            200: {"type": "object", "properties": {"status": {"type": "string"}, "verdict": {"type": "string"}}}
        },
    )
    def post(self, request: Request) -> Response:
        record, new = services.stripe_event_receive(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature", "")
        )
        return Response({"status": "received" if new else "duplicate", "verdict": record.verdict})


class SandboxPayView(APIView):
    """The sandbox payer (embedded default only): pays a payment with its client secret, as Stripe.js
    would with a test card. 404 on any real rail."""

    @extend_schema(
        request=SandboxPaySerializer,
        responses={200: {"type": "object", "properties": {"status": {"type": "string"}}}},
        summary="Sandbox: pay a payment with its client secret (simulated rail only)",
    )
    def post(self, request: Request) -> Response:
        payload = SandboxPaySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payment = services.sandbox_payment_pay(**payload.validated_data)
        return Response({"status": payment.status, "failure_reason": payment.failure_reason})
