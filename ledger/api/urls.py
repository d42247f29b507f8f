# Accounts live under ledger/accounts/...; the top-level names ledger/balance, ledger/topup and
# ledger/history stay free for the employer-facing endpoints of issue #7.
from django.urls import URLPattern, URLResolver, path

from ledger.api import reconciliation, views

_R = "ledger/reconciliation"

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
    path(f"{_R}/runs/", reconciliation.RunListView.as_view(), name="ledger-recon-run-list"),
    path(f"{_R}/runs/<uuid:public_id>/", reconciliation.RunDetailView.as_view(), name="ledger-recon-run"),
    path(f"{_R}/runs/<uuid:public_id>/lines/", reconciliation.RunLinesView.as_view(), name="ledger-recon-run-lines"),
    path(f"{_R}/runs/<uuid:public_id>/report.csv", reconciliation.RunReportCsvView.as_view(), name="ledger-recon-csv"),
    path(f"{_R}/runs/<uuid:public_id>/report.pdf", reconciliation.RunReportPdfView.as_view(), name="ledger-recon-pdf"),
    path(f"{_R}/breaks/", reconciliation.BreakListView.as_view(), name="ledger-recon-break-list"),
    path(f"{_R}/breaks/<uuid:public_id>/", reconciliation.BreakDetailView.as_view(), name="ledger-recon-break"),
    path(f"{_R}/breaks/<uuid:public_id>/assign/", reconciliation.BreakAssignView.as_view(), name="ledger-recon-assign"),
    path(
        f"{_R}/breaks/<uuid:public_id>/comments/",
        reconciliation.BreakCommentView.as_view(),
        name="ledger-recon-comment",
    ),
    path(
        f"{_R}/breaks/<uuid:public_id>/resolve/",
        reconciliation.BreakResolveView.as_view(),
        name="ledger-recon-resolve",
    ),
    path(
        f"{_R}/breaks/<uuid:public_id>/approve/",
        reconciliation.BreakWriteOffApproveView.as_view(),
        name="ledger-recon-approve",
    ),
    path(
        f"{_R}/breaks/<uuid:public_id>/reject/",
        reconciliation.BreakWriteOffRejectView.as_view(),
        name="ledger-recon-reject",
    ),
    path("webhooks/stripe", views.StripeWebhookView.as_view(), name="webhook-stripe"),
    path("sandbox/payments/pay", views.SandboxPayView.as_view(), name="sandbox-payment-pay"),
]
