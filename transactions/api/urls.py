from django.urls import URLPattern, URLResolver, path

from transactions.api import views as v

T = "escrow/transactions/<uuid:transaction_id>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("escrow/transactions/", v.TransactionListCreate.as_view(), name="escrow-transaction-list"),
    path(T, v.TransactionDetail.as_view(), name="escrow-transaction-detail"),
    path(T + "open/", v.TransactionOpen.as_view(), name="escrow-transaction-open"),
    path(T + "cancel/", v.TransactionCancel.as_view(), name="escrow-transaction-cancel"),
    path(T + "deposits/", v.TransactionDeposit.as_view(), name="escrow-transaction-deposit"),
    path(T + "manual-deposits/", v.TransactionManualDeposits.as_view(), name="escrow-transaction-manual-deposits"),
    path(
        T + "manual-deposits/<uuid:manual_deposit_id>/confirm/",
        v.TransactionManualDepositConfirm.as_view(),
        name="escrow-transaction-manual-deposit-confirm",
    ),
    path(
        T + "manual-deposits/<uuid:manual_deposit_id>/reject/",
        v.TransactionManualDepositReject.as_view(),
        name="escrow-transaction-manual-deposit-reject",
    ),
    path(T + "decisions/", v.TransactionDecision.as_view(), name="escrow-transaction-decision"),
    path(T + "pause/", v.TransactionPause.as_view(), name="escrow-transaction-pause"),
    path(T + "verifications/", v.TransactionVerifications.as_view(), name="escrow-transaction-verifications"),
    path(T + "payments/", v.TransactionPayments.as_view(), name="escrow-transaction-payments"),
    path(T + "settlement/", v.Settlement.as_view(), name="escrow-settlement"),
    path(T + "settlement/execute/", v.SettlementExecute.as_view(), name="escrow-settlement-execute"),
    path(T + "settlement/approve/", v.SettlementApprove.as_view(), name="escrow-settlement-approve"),
    path(T + "payments-in/", v.TransactionPaymentsIn.as_view(), name="escrow-transaction-payments-in"),
    path(
        T + "payments-in/<uuid:payment_id>/refresh/",
        v.TransactionPaymentInRefresh.as_view(),
        name="escrow-transaction-payment-in-refresh",
    ),
    path(T + "disputes/", v.TransactionDisputes.as_view(), name="escrow-transaction-disputes"),
    path(T + "audit-trail/", v.AuditTrail.as_view(), name="escrow-audit-trail"),
    path(T + "audit-bundle/", v.AuditBundle.as_view(), name="escrow-audit-bundle"),
    path("escrow/payments/<uuid:payment_id>/", v.PaymentDetail.as_view(), name="escrow-payment-detail"),
    path("escrow/payments/<uuid:payment_id>/retry/", v.PaymentRetry.as_view(), name="escrow-payment-retry"),
    path("escrow/disputes/<uuid:dispute_id>/", v.DisputeDetail.as_view(), name="escrow-dispute-detail"),
    path("escrow/controls/pause/", v.GlobalPause.as_view(), name="escrow-global-pause"),
    path(
        "escrow/payees/<uuid:organization_id>/bank-details/", v.PayeeBankDetails.as_view(), name="escrow-bank-details"
    ),
    path(
        "escrow/payees/<uuid:organization_id>/bank-details/<uuid:change_id>/confirm/",
        v.PayeeBankDetailsDecision.as_view(decision="confirm"),
        name="escrow-bank-details-confirm",
    ),
    path(
        "escrow/payees/<uuid:organization_id>/bank-details/<uuid:change_id>/reject/",
        v.PayeeBankDetailsDecision.as_view(decision="reject"),
        name="escrow-bank-details-reject",
    ),
]
