"""The escrow API: parse, call one service or selector, render. Parties see only their transactions."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import selectors as audit_selectors
from escrow_project.common.errors import NotFoundError, PermissionDeniedError, UnprocessableError
from escrow_project.common.idempotency import idempotent
from escrow_project.common.pagination import LinkHeaderPagination
from identity import selectors as identity_selectors
from identity.permissions import HasAnyRole, IsOperator
from identity.selectors import user_has_role, user_is_operator
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import RailPayment
from transactions import selectors, services
from transactions.api import serializers as s
from transactions.models import Dispute, EscrowTransaction, ManualDeposit, Payment, SettlementStatement
from transactions.services._common import SUBJECT_TYPE
from verifications import selectors as verification_selectors


def _txn(request: Request, transaction_id: Any) -> EscrowTransaction:
    return selectors.escrow_get_for_party(user=request.user, public_id=transaction_id)


def _detail_queryset() -> QuerySet[EscrowTransaction]:
    return EscrowTransaction.objects.select_related(
        "buyer", "seller", "buyer_agent", "seller_agent", "lender", "escrow_company", "escrow_officer"
    ).prefetch_related("milestones__payee")


def _fresh(txn: EscrowTransaction) -> EscrowTransaction:
    return _detail_queryset().get(pk=txn.pk)


class TransactionListCreate(generics.ListAPIView[EscrowTransaction]):
    """List (filters: status, reference, closing_after, closing_before) and create."""

    serializer_class = s.TransactionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="one or more states, comma-separated"),
            OpenApiParameter("reference", str),
            OpenApiParameter("closing_after", str, description="YYYY-MM-DD"),
            OpenApiParameter("closing_before", str, description="YYYY-MM-DD"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[EscrowTransaction]:
        qs = selectors.escrow_list_for_user(user=self.request.user).prefetch_related("milestones__payee")
        params = self.request.query_params
        try:
            if params.get("status"):
                qs = qs.filter(status__in=params["status"].split(","))
            if params.get("reference"):
                qs = qs.filter(reference=params["reference"])
            if params.get("closing_after"):
                qs = qs.filter(closing_date__gte=date.fromisoformat(params["closing_after"]))
            if params.get("closing_before"):
                qs = qs.filter(closing_date__lte=date.fromisoformat(params["closing_before"]))
        except ValueError:
            raise UnprocessableError("Dates are YYYY-MM-DD.", code="invalid_filter") from None
        return qs.order_by("-created_at", "-id")

    @extend_schema(request=s.TransactionCreateSerializer, responses={201: s.TransactionSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        if not (user_is_operator(request.user) or user_has_role(request.user, "escrow_officer")):
            raise PermissionDeniedError("Only escrow officers and operators open escrow transactions.")
        data = s.TransactionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        costs = [dict(c) for c in v.pop("closing_costs", [])]
        txn = services.escrow_create(created_by=request.user, closing_costs=costs, **v)
        return Response(
            s.TransactionSerializer(_fresh(txn)).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/escrow/transactions/{txn.public_id}/"},
        )


# Long enough that a client waiting for the next state costs a request per change, not one every
# half second; short enough for proxies' idle timeouts (usually 30-60 s) and a worker thread each.
WAIT_FOR_CHANGE_MAX = 25


def _wait_seconds(request: Request) -> float:
    raw = request.query_params.get("wait_for_change")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= WAIT_FOR_CHANGE_MAX:  # also refuses nan and inf
        raise UnprocessableError(
            f"wait_for_change is a number of seconds from 0 to {WAIT_FOR_CHANGE_MAX}.", code="invalid_wait"
        )
    return seconds


def _etags(request: Request) -> set[str]:
    header = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class TransactionDetail(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "wait_for_change",
                float,
                description=(
                    "With If-None-Match set to the ETag of an earlier answer: wait up to this many "
                    f"seconds (at most {WAIT_FOR_CHANGE_MAX}) for the transaction to change, then answer "
                    "with the new state, or 304 Not Modified if nothing changed. A client waiting for a "
                    "state makes one request per change instead of polling."
                ),
            ),
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                description="ETag of an earlier answer: 304 Not Modified while the transaction is unchanged.",
            ),
        ],
        responses={200: s.TransactionSerializer, 304: None},
    )
    def get(self, request: Request, transaction_id: str) -> Response:
        pk = selectors.escrow_pk_for_party(user=request.user, public_id=transaction_id)
        wait, seen = _wait_seconds(request), _etags(request)
        if wait and len(seen) == 1:
            # The wait holds no database connection (a pooled one goes back to the pool); whether
            # the caller may still see the transaction is asked again once it has changed.
            if not connection.in_atomic_block:
                connection.close()
            if selectors.escrow_state_wait(transaction_id=pk, seen=next(iter(seen)).strip('"'), timeout=wait):
                pk = selectors.escrow_pk_for_party(user=request.user, public_id=transaction_id)

        def render() -> dict[str, Any]:
            txn = _detail_queryset().get(pk=pk)
            return dict(s.TransactionSerializer(txn).data)

        body, version = selectors.escrow_state_cached_versioned(transaction_id=pk, render=render)
        if version is None:  # the cache is not in use: no version to compare, always the full answer
            return Response(body)
        etag = f'"{version}"'
        if etag in seen:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(body, headers={"ETag": etag})

    @extend_schema(request=s.TransactionUpdateSerializer, responses=s.TransactionSerializer)
    def patch(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.TransactionUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.escrow_update(transaction_id=txn.pk, actor=request.user, changes=dict(data.validated_data))
        return Response(s.TransactionSerializer(_fresh(txn)).data)


class TransactionOpen(APIView):
    @extend_schema(request=None, responses=s.TransactionSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        services.escrow_open(transaction_id=txn.pk, actor=request.user)
        return Response(s.TransactionSerializer(_fresh(txn)).data)


class TransactionCancel(APIView):
    @extend_schema(request=s.CancelSerializer, responses=s.TransactionSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.escrow_cancel(transaction_id=txn.pk, actor=request.user, reason=data.validated_data["reason"])
        return Response(s.TransactionSerializer(_fresh(txn)).data)


class TransactionDeposit(APIView):
    """Record a wire received outside the payment rail: the escrow officer or an operator; never a party."""

    @extend_schema(
        request=s.DepositSerializer,
        responses={201: s.TransactionSerializer, 202: s.ManualDepositSerializer},
        description="201: recorded. 202: above ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE the wire waits for a second "
        "person (another operator or escrow officer of the escrow company) to confirm it at "
        "`manual-deposits/{id}/confirm/`; nothing is in the wallet until then.",
    )
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.DepositSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _, pending = services.manual_deposit_record(
            transaction_id=txn.pk,
            kind=data.validated_data["kind"],
            amount=data.validated_data["amount"],
            actor=request.user,
            provider_reference=data.validated_data["provider_reference"],
        )
        if pending is not None:
            return Response(s.ManualDepositSerializer(pending).data, status=status.HTTP_202_ACCEPTED)
        return Response(s.TransactionSerializer(_fresh(txn)).data, status=status.HTTP_201_CREATED)


class TransactionManualDeposits(APIView):
    """Wires entered by hand on this escrow, pending and decided."""

    @extend_schema(responses=s.ManualDepositSerializer(many=True))
    def get(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        return Response(s.ManualDepositSerializer(txn.manual_deposits.select_related("recorded_by", "decided_by"),
                                                  many=True).data)  # fmt: skip


def _wire(txn: EscrowTransaction, manual_deposit_id: str) -> ManualDeposit:
    wire = txn.manual_deposits.filter(public_id=manual_deposit_id).first()
    if wire is None:
        raise NotFoundError("No such manual deposit on this transaction.", code="not_found")
    return wire


class TransactionManualDepositConfirm(APIView):
    """The second person confirms a wire: it becomes a deposit in the wallet."""

    @extend_schema(request=None, responses=s.TransactionSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str, manual_deposit_id: str) -> Response:
        txn = _txn(request, transaction_id)
        services.manual_deposit_confirm(manual_deposit_id=_wire(txn, manual_deposit_id).pk, actor=request.user)
        return Response(s.TransactionSerializer(_fresh(txn)).data)


class TransactionManualDepositReject(APIView):
    """The second person refuses a wire (not on the bank statement, wrong amount): nothing moves."""

    @extend_schema(request=s.ManualDepositRejectSerializer, responses=s.ManualDepositSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str, manual_deposit_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.ManualDepositRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wire = services.manual_deposit_reject(
            manual_deposit_id=_wire(txn, manual_deposit_id).pk, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(s.ManualDepositSerializer(wire).data)


class TransactionPaymentsIn(APIView):
    """Pay what is due through the payment rail: earnest money and cash to close (buyer), loan (lender)."""

    @extend_schema(responses=s.PaymentInSerializer(many=True))
    def get(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        payments = RailPayment.objects.filter(subject_type=SUBJECT_TYPE, subject_id=str(txn.public_id))
        return Response(s.PaymentInSerializer(payments, many=True).data)

    @extend_schema(
        request=s.PaymentInStartSerializer,
        responses={201: s.PaymentInSerializer},
        description="Opens (or returns) the payment of the amount due; the response's `client_secret` "
        "completes it at the rail. The deposit is recorded when the rail confirms it.",
    )
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.PaymentInStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment, client_secret = services.payment_in_start(
            transaction_id=txn.pk, kind=data.validated_data["kind"], actor=request.user
        )
        body = {**s.PaymentInSerializer(payment).data, "client_secret": client_secret}
        return Response(body, status=status.HTTP_201_CREATED)


class TransactionPaymentInRefresh(APIView):
    """Ask the rail for the payment's state now (a verified retrieve), instead of waiting for its webhook."""

    @extend_schema(request=None, responses=s.PaymentInSerializer)
    def post(self, request: Request, transaction_id: str, payment_id: str) -> Response:
        txn = _txn(request, transaction_id)
        payment = ledger_selectors.rail_payment_get(
            public_id=payment_id, subject_type=SUBJECT_TYPE, subject_id=str(txn.public_id)
        )
        return Response(s.PaymentInSerializer(ledger_services.rail_payment_refresh(payment_id=payment.pk)).data)


class TransactionDecision(APIView):
    """The parties' decision after a rejected or failed verification: waive, renegotiate or reassign."""

    @extend_schema(request=s.DecisionSerializer, responses=s.TransactionSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["decision"] == "waive":
            services.escrow_waive(transaction_id=txn.pk, verification_type=v["verification_type"], actor=request.user)
        elif v["decision"] == "renegotiate":
            if "purchase_price" not in v:
                raise UnprocessableError("A renegotiation needs the new purchase_price.", code="price_required")
            services.escrow_renegotiate(
                transaction_id=txn.pk,
                actor=request.user,
                purchase_price=v["purchase_price"],
                redo=v["verification_type"],
            )
        else:
            services.escrow_task_reassign(
                transaction_id=txn.pk, verification_type=v["verification_type"], actor=request.user, agent=v["agent"]
            )
        return Response(s.TransactionSerializer(_fresh(txn)).data)


class TransactionPause(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=s.PauseSerializer, responses=s.TransactionSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.PauseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.escrow_pause(transaction_id=txn.pk, actor=request.user, **data.validated_data)
        return Response(s.TransactionSerializer(_fresh(txn)).data)


class GlobalPause(APIView):
    def get_permissions(self) -> list[Any]:
        # Auditors read the switch (and its audit trail); only operators flip it.
        return [IsOperator()] if self.request.method == "POST" else [HasAnyRole.of("auditor")()]

    @extend_schema(responses=s.PauseStateSerializer, summary="Whether every escrow payout is paused, why, by whom")
    def get(self, request: Request) -> Response:
        return Response(s.PauseStateSerializer(selectors.payouts_pause_state()).data)

    @extend_schema(request=s.PauseSerializer, responses=s.PauseStateSerializer)
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.PauseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.payouts_pause_all(actor=request.user, **data.validated_data)
        return Response(s.PauseStateSerializer(selectors.payouts_pause_state()).data)


class TransactionVerifications(APIView):
    @extend_schema(responses=s.VerificationSummarySerializer(many=True))
    def get(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        tasks = list(verification_selectors.workflow_tasks(workflow_id=txn.workflow_id)) if txn.workflow_id else []
        return Response(s.VerificationSummarySerializer(tasks, many=True).data)


class TransactionPayments(APIView):
    @extend_schema(responses=s.PaymentSerializer(many=True))
    def get(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        payments = Payment.objects.filter(transaction=txn).select_related("payee", "transaction")
        return Response(s.PaymentSerializer(payments, many=True).data)


class PaymentDetail(APIView):
    @extend_schema(responses=s.PaymentSerializer)
    def get(self, request: Request, payment_id: str) -> Response:
        return Response(
            s.PaymentSerializer(selectors.payment_get_for_party(user=request.user, public_id=payment_id)).data
        )


class PaymentRetry(APIView):
    @extend_schema(request=None, responses=s.PaymentSerializer)
    @idempotent
    def post(self, request: Request, payment_id: str) -> Response:
        payment = selectors.payment_get_for_party(user=request.user, public_id=payment_id)
        if not (user_is_operator(request.user) or payment.transaction.escrow_officer_id == request.user.pk):
            raise PermissionDeniedError("Only the escrow officer or an operator retries a payment.")
        services.payment_retry(payment_id=payment.pk, actor=request.user)
        return Response(s.PaymentSerializer(Payment.objects.get(pk=payment.pk)).data)


class Settlement(APIView):
    @extend_schema(responses=s.SettlementSerializer)
    def get(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        row = SettlementStatement.objects.filter(transaction=txn).first()
        if row is None:
            raise NotFoundError("The settlement statement exists from clear to close on.")
        return Response(s.SettlementSerializer(row).data)


class SettlementExecute(APIView):
    @extend_schema(request=None, responses=s.SettlementSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        row = services.settlement_execute(transaction_id=txn.pk, actor=request.user)
        return Response(s.SettlementSerializer(row).data)


class SettlementApprove(APIView):
    permission_classes = [IsOperator]

    @extend_schema(request=None, responses=s.SettlementSerializer)
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        row = services.settlement_approve(transaction_id=txn.pk, operator=request.user)
        return Response(s.SettlementSerializer(row).data)


class TransactionDisputes(APIView):
    @extend_schema(responses=s.DisputeSerializer(many=True))
    def get(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        return Response(s.DisputeSerializer(Dispute.objects.filter(transaction=txn), many=True).data)

    @extend_schema(request=s.DisputeCreateSerializer, responses={201: s.DisputeSerializer})
    @idempotent
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _txn(request, transaction_id)
        data = s.DisputeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = services.dispute_raise(transaction_id=txn.pk, raised_by=request.user, **data.validated_data)
        return Response(s.DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


class DisputeDetail(APIView):
    @extend_schema(responses=s.DisputeSerializer)
    def get(self, request: Request, dispute_id: str) -> Response:
        return Response(
            s.DisputeSerializer(selectors.dispute_get_for_party(user=request.user, public_id=dispute_id)).data
        )

    @extend_schema(request=s.DisputeUpdateSerializer, responses=s.DisputeSerializer)
    @idempotent
    def post(self, request: Request, dispute_id: str) -> Response:
        dispute = selectors.dispute_get_for_party(user=request.user, public_id=dispute_id)
        data = s.DisputeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["status"] == "dismissed":
            services.dispute_dismiss(dispute_id=dispute.pk, actor=request.user, note=v["note"])
        else:
            if "resolution" not in v:
                raise UnprocessableError(
                    "Resolving needs a resolution: release, refund or split.", code="invalid_resolution"
                )
            services.dispute_resolve(
                dispute_id=dispute.pk,
                actor=request.user,
                resolution=v["resolution"],
                seller_share_pct=v["seller_share_pct"],
                note=v["note"],
            )
        return Response(s.DisputeSerializer(Dispute.objects.get(pk=dispute.pk)).data)


class PayeeBankDetails(APIView):
    """Where an organization is paid: the details in force (masked) and the changes proposed."""

    @extend_schema(responses=s.BankDetailsStateSerializer)
    def get(self, request: Request, organization_id: str) -> Response:
        organization = identity_selectors.organization_get_for_user(user=request.user, public_id=organization_id)
        return Response(
            s.BankDetailsStateSerializer(selectors.payee_bank_details_state(organization=organization)).data
        )

    @extend_schema(request=s.BankDetailsSerializer, responses={202: s.BankDetailsChangeSerializer})
    @idempotent
    def post(self, request: Request, organization_id: str) -> Response:
        """Propose new details (an organization admin or an operator); a second person confirms."""
        organization = identity_selectors.organization_get_for_user(user=request.user, public_id=organization_id)
        data = s.BankDetailsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change = services.payee_bank_details_propose(
            organization=organization, bank_details=data.validated_data["bank_details"], actor=request.user
        )
        return Response(s.BankDetailsChangeSerializer(change).data, status=status.HTTP_202_ACCEPTED)


class PayeeBankDetailsDecision(APIView):
    """A second person (another admin of the organization, or an operator) confirms or rejects a change."""

    decision = "confirm"

    @extend_schema(request=s.BankDetailsDecisionSerializer, responses=s.BankDetailsChangeSerializer)
    @idempotent
    def post(self, request: Request, organization_id: str, change_id: str) -> Response:
        organization = identity_selectors.organization_get_for_user(user=request.user, public_id=organization_id)
        change = selectors.bank_details_change_get(organization=organization, public_id=change_id)
        data = s.BankDetailsDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if self.decision == "confirm":
            services.payee_bank_details_confirm(change_id=change.pk, actor=request.user)
        else:
            services.payee_bank_details_reject(
                change_id=change.pk, actor=request.user, reason=data.validated_data["reason"]
            )
        change.refresh_from_db()
        return Response(s.BankDetailsChangeSerializer(change).data)


class AuditTrail(APIView):
    """The transaction's audit events in chain order (parties, operators and auditors)."""

    @extend_schema(parameters=[OpenApiParameter("kind", str)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, transaction_id: str) -> Response:
        events = audit_selectors.events_for_subject(
            request.user, SUBJECT_TYPE, str(transaction_id), kind=request.query_params.get("kind") or None
        )
        paginator = LinkHeaderPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response([audit_selectors.event_as_record(e) for e in page or []])


class AuditBundle(APIView):
    """Download the proof bundle of the transaction's audit trail (verifiable offline)."""

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def get(self, request: Request, transaction_id: str) -> HttpResponse:
        bundle = audit_selectors.bundle_for_subject(request.user, SUBJECT_TYPE, str(transaction_id))
        response = HttpResponse(json.dumps(bundle, indent=1, sort_keys=True), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="audit-escrow-{transaction_id}.json"'
        return response
