from django.urls import URLPattern, URLResolver, path

from audit.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("audit/events/<str:event_hash>/verify", views.EventVerifyView.as_view(), name="audit-event-verify"),
    path(
        "audit/<slug:subject_type>/<str:subject_id>/events",
        views.SubjectEventsView.as_view(),
        name="audit-subject-events",
    ),
    path(
        "audit/<slug:subject_type>/<str:subject_id>/bundle",
        views.SubjectBundleView.as_view(),
        name="audit-subject-bundle",
    ),
]
