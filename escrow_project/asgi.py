"""ASGI entry point: Django for HTTP, Channels for WebSockets (served by uvicorn in `make run`).

WebSockets authenticate with the Django session cookie (AuthMiddlewareStack) and must come from
an allowed host (AllowedHostsOriginValidator, so another site cannot open one with the user's
cookie). Routes: notifications/routing.py.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from escrow_project.common.api_guard import limit_asgi_body  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": limit_asgi_body(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
