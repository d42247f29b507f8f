"""WebSocket routes of the notifications app, mounted by escrow_project/asgi.py."""

from django.urls import path, re_path

from notifications.consumers import MyNotificationsConsumer, SubjectEventsConsumer

websocket_urlpatterns = [
    re_path(
        r"^ws/subjects/(?P<subject_type>[a-z][a-z0-9_]{0,39})/(?P<subject_id>[A-Za-z0-9_-]{1,64})/$",
        SubjectEventsConsumer.as_asgi(),
    ),
    path("ws/notifications/", MyNotificationsConsumer.as_asgi()),
]
