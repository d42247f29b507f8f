from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from escrow_project.common import health, metrics

api_v1 = [
    path("", include("identity.api.urls")),
    path("", include("ledger.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("verifications.api.urls")),
    path("", include("endorsements.api.urls")),
    path("", include("transactions.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/v1/", include(api_v1)),
    path("escrow/", include("transactions.urls")),
    path("employer/", include("endorsements.urls")),
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
