from django.urls import URLPattern, URLResolver, path

from endorsements.api import ledger_views, onboarding_views, reconciliation_views, views, webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    path("ledger/balance", ledger_views.LedgerBalanceView.as_view(), name="endorsement-ledger-balance"),
    path("ledger/topup", ledger_views.LedgerTopupView.as_view(), name="endorsement-ledger-topup"),
    path("ledger/forecast", ledger_views.LedgerForecastView.as_view(), name="endorsement-ledger-forecast"),
    path("ledger/history", ledger_views.LedgerHistoryView.as_view(), name="endorsement-ledger-history"),
    path("endorsements/", views.EndorsementListCreateView.as_view(), name="endorsement-list"),
    path("endorsements/audit-trail", views.EndorsementAuditTrailView.as_view(), name="endorsement-audit-trail"),
    path("endorsements/audit-events", views.EndorsementAuditEventsView.as_view(), name="endorsement-audit-events"),
    path(
        "endorsements/audit-events/<str:event_hash>/verify",
        views.EndorsementEventVerifyView.as_view(),
        name="endorsement-audit-event-verify",
    ),
    path("endorsements/audit-bundle", views.EndorsementAuditBundleView.as_view(), name="endorsement-audit-bundle"),
    path("endorsements/batch", views.BatchUploadView.as_view(), name="endorsement-batch-upload"),
    path("endorsements/batches/<uuid:batch_id>", views.BatchDetailView.as_view(), name="endorsement-batch"),
    path("endorsements/batches/<uuid:batch_id>/rows", views.BatchRowsView.as_view(), name="endorsement-batch-rows"),
    path(
        "endorsements/batches/<uuid:batch_id>/rows.csv",
        views.BatchRowsCsvView.as_view(),
        name="endorsement-batch-rows-csv",
    ),
    path(
        "endorsements/reconciliation/statements",
        reconciliation_views.StatementUploadView.as_view(),
        name="endorsement-reconciliation-statement",
    ),
    path("endorsements/<str:tracking_id>", views.EndorsementDetailView.as_view(), name="endorsement-detail"),
    path(
        "onboarding/insurers/<uuid:insurer_id>",
        onboarding_views.InsurerProfileOnboardView.as_view(),
        name="endorsement-onboarding-insurer",
    ),
    path("onboarding/policies", onboarding_views.PolicyOnboardView.as_view(), name="endorsement-onboarding-policies"),
    path(
        "onboarding/policies/<uuid:policy_id>/rates",
        onboarding_views.RateCardsView.as_view(),
        name="endorsement-onboarding-rates",
    ),
    path(
        "onboarding/policies/<uuid:policy_id>/census",
        onboarding_views.CensusUploadView.as_view(),
        name="endorsement-onboarding-census-upload",
    ),
    path(
        "onboarding/census/<uuid:census_id>",
        onboarding_views.CensusDetailView.as_view(),
        name="endorsement-onboarding-census",
    ),
    path(
        "webhooks/insurers/<uuid:insurer_id>/notify",
        webhooks.InsurerNotifyView.as_view(),
        name="endorsement-insurer-notify",
    ),
    path(
        "webhooks/insurers/<uuid:insurer_id>/batch-notify",
        webhooks.InsurerBatchNotifyView.as_view(),
        name="endorsement-insurer-batch-notify",
    ),
]
