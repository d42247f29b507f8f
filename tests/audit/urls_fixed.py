"""How an upper app mounts the audit views with a fixed subject type (used by a test)."""

from django.urls import path

from audit.api.views import EventVerifyView, SubjectBundleView, SubjectEventsView

urlpatterns = [
    path("cases/<str:subject_id>/audit-trail", SubjectEventsView.as_view(subject_type="test_case")),
    path("cases/<str:subject_id>/audit-bundle", SubjectBundleView.as_view(subject_type="test_case")),
    path("events/<str:event_hash>/verify", EventVerifyView.as_view()),
]
