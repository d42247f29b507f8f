from django.urls import URLPattern, URLResolver, path

from notifications.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("notifications/", views.NotificationListView.as_view(), name="notification-list"),
    path("notifications/<uuid:public_id>/read/", views.NotificationReadView.as_view(), name="notification-read"),
    path("notification-preferences/", views.PreferenceListView.as_view(), name="notification-preferences"),
    path("notification-contact/", views.ContactView.as_view(), name="notification-contact"),
    path("webhook-endpoints/", views.WebhookEndpointListView.as_view(), name="webhook-endpoint-list"),
    path(
        "webhook-endpoints/<uuid:public_id>/",
        views.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<uuid:public_id>/rotate-secret/",
        views.WebhookSecretRotateView.as_view(),
        name="webhook-endpoint-rotate",
    ),
    path(
        "webhook-endpoints/<uuid:public_id>/test/",
        views.WebhookEndpointTestView.as_view(),
        name="webhook-endpoint-test",
    ),
    path(
        "webhook-endpoints/<uuid:public_id>/deliveries/",
        views.WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhook-deliveries/<uuid:public_id>/redeliver/",
        views.WebhookRedeliverView.as_view(),
        name="webhook-delivery-redeliver",
    ),
]
