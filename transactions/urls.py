from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from transactions import views

T = "<uuid:public_id>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.transaction_list, name="escrow-page-list"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="transactions/login.html", next_page="/escrow/"),
        name="escrow-login",
    ),
    path(T, views.transaction_status, name="escrow-page-status"),
    path(T + "decide/", views.transaction_decide, name="escrow-page-decide"),
    path(T + "dispute/", views.transaction_dispute, name="escrow-page-dispute"),
    path(T + "pay/", views.payment_start, name="escrow-page-pay"),
    path(T + "pay/<uuid:payment_id>/", views.payment_page, name="escrow-page-payment"),
    path(T + "pay/<uuid:payment_id>/sandbox/", views.payment_sandbox_pay, name="escrow-page-payment-sandbox"),
    path(T + "statement.pdf", views.statement_pdf, name="escrow-page-statement-pdf"),
]
