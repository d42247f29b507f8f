from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from endorsements import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="employer-home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="endorsements/login.html", next_page="/employer/"),
        name="employer-login",
    ),
    path("<uuid:employer_id>/", views.dashboard, name="employer-dashboard"),
    path("<uuid:employer_id>/requests/", views.request_list, name="employer-requests"),
    path("<uuid:employer_id>/waiting-for-funds/", views.parked, name="employer-parked"),
    path("<uuid:employer_id>/files/", views.files, name="employer-files"),
    path("<uuid:employer_id>/files/<uuid:batch_id>/", views.batch_detail, name="employer-batch"),
    path("<uuid:employer_id>/files/<uuid:batch_id>/progress", views.batch_progress, name="employer-batch-progress"),
    path(
        "<uuid:employer_id>/files/<uuid:batch_id>/results.csv", views.batch_results_csv, name="employer-batch-results"
    ),
    path("<uuid:employer_id>/top-up/", views.topup, name="employer-topup"),
    path("<uuid:employer_id>/top-up/<uuid:payment_id>/", views.topup_payment, name="employer-topup-payment"),
    path(
        "<uuid:employer_id>/top-up/<uuid:payment_id>/sandbox-pay",
        views.topup_sandbox_pay,
        name="employer-topup-sandbox-pay",
    ),
    path("<uuid:employer_id>/messages/", views.notification_settings, name="employer-notifications"),
]
