from django.urls import URLPattern, URLResolver, path

from notifications import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("preferences/", views.preferences, name="notification-preferences-page"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="notification-unsubscribe"),
]
