# Accounts live under ledger/accounts/...; the top-level names ledger/balance, ledger/topup and
# ledger/history stay free for the employer-facing endpoints of issue #7.
from django.urls import URLPattern, URLResolver, path

from ledger.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("ledger/accounts/", views.AccountListView.as_view(), name="ledger-account-list"),
    path("ledger/accounts/<uuid:public_id>/", views.AccountDetailView.as_view(), name="ledger-account-detail"),
    path(
        "ledger/accounts/<uuid:public_id>/balance/", views.AccountBalanceView.as_view(), name="ledger-account-balance"
    ),
    path(
        "ledger/accounts/<uuid:public_id>/history/", views.AccountHistoryView.as_view(), name="ledger-account-history"
    ),
    path("ledger/accounts/<uuid:public_id>/topup/", views.AccountTopUpView.as_view(), name="ledger-account-topup"),
    path(
        "ledger/accounts/<uuid:public_id>/adjustments/",
        views.AccountAdjustmentView.as_view(),
        name="ledger-account-adjustment",
    ),
    path("ledger/entries/<uuid:public_id>/reverse/", views.EntryReverseView.as_view(), name="ledger-entry-reverse"),
    path("ledger/approvals/", views.OperatorEntryListView.as_view(), name="ledger-approval-list"),
    path(
        "ledger/approvals/<uuid:public_id>/approve/",
        views.OperatorEntryApproveView.as_view(),
        name="ledger-approval-approve",
    ),
    path(
        "ledger/approvals/<uuid:public_id>/reject/",
        views.OperatorEntryRejectView.as_view(),
        name="ledger-approval-reject",
    ),
    path("webhooks/stripe", views.StripeWebhookView.as_view(), name="webhook-stripe"),
    path("sandbox/payments/pay", views.SandboxPayView.as_view(), name="sandbox-payment-pay"),
]
