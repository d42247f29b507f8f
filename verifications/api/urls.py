from django.urls import URLPattern, URLResolver, path

from verifications.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("escrow/verifications/", views.TaskList.as_view(), name="escrow-verification-list"),
    path("escrow/verifications/<uuid:task_id>/", views.TaskDetail.as_view(), name="escrow-verification-detail"),
    path("escrow/verifications/<uuid:task_id>/report/", views.TaskReport.as_view(), name="escrow-verification-report"),
    path("escrow/verifications/<uuid:task_id>/status/", views.TaskStatus.as_view(), name="escrow-verification-status"),
    path("escrow/agents/<uuid:agent_id>/webhook/", views.AgentWebhook.as_view(), name="escrow-agent-webhook"),
]
