from django.urls import URLPattern, URLResolver, path

from verifications import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.inbox, name="verifier-inbox"),
    path("tasks/<uuid:task_id>/", views.task_detail, name="verifier-task"),
    path("tasks/<uuid:task_id>/act/", views.task_act, name="verifier-task-act"),
]
