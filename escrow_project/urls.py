from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from escrow_project.common import health, metrics
from identity.forms import BlindIndexPasswordResetForm

api_v1 = [
    path("", include("identity.api.urls")),
    path("", include("ledger.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("verifications.api.urls")),
    path("", include("endorsements.api.urls")),
    path("", include("transactions.api.urls")),
]

# Signing in, out and resetting a password, at Django's usual paths (its default LOGIN_URL is
# /accounts/login/), for every kind of user (templates/identity/).
accounts = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="transactions/login.html", next_page="/escrow/"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path(
        "password_reset/",
        auth_views.PasswordResetView.as_view(
            template_name="identity/password_reset_form.html",
            email_template_name="identity/password_reset_email.txt",
            subject_template_name="identity/password_reset_subject.txt",
            from_email=settings.NOTIFICATIONS_FROM_EMAIL,
            form_class=BlindIndexPasswordResetForm,
        ),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(template_name="identity/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(template_name="identity/password_reset_confirm.html"),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="identity/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("", TemplateView.as_view(template_name="identity/landing.html"), name="landing"),
    path("accounts/", include(accounts)),
    path("admin/", admin.site.urls),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/v1/", include(api_v1)),
    path("escrow/", include("transactions.urls")),
    path("employer/", include("endorsements.urls")),
    path("verifier/", include("verifications.urls")),
    path("notifications/", include("notifications.urls")),
    path("metrics", metrics.metrics, name="prometheus-django-metrics"),
]
if settings.API_DOCS_ENABLED:
    urlpatterns += [
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    ]

handler404 = "escrow_project.urls.not_found"
handler500 = "escrow_project.urls.server_error"


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.views.defaults import page_not_found

    from escrow_project.common.errors import api_not_found

    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return page_not_found(request, exception)


@csrf_exempt  # a 404 whatever the method: never the CSRF middleware's HTML 403
def api_unmatched(request: HttpRequest) -> HttpResponse:
    from escrow_project.common.errors import api_not_found

    return api_not_found(request)


def server_error(request: HttpRequest) -> HttpResponse:
    from django.views.defaults import server_error as page_server_error

    from escrow_project.common.errors import api_server_error

    if request.path.startswith("/api/"):
        return api_server_error(request)
    return page_server_error(request)


# Last: any other /api/ URL is a problem-JSON 404, never Django's HTML page (which, with DEBUG on,
# lists every URL pattern).
urlpatterns.append(re_path(r"^api/", api_unmatched, name="api-not-found"))
