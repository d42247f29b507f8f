from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path

from transactions import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.transaction_list, name="escrow-page-list"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="transactions/login.html", next_page="/escrow/"),
        name="escrow-login",
    ),
    path("<uuid:public_id>/", views.transaction_status, name="escrow-page-status"),
]
