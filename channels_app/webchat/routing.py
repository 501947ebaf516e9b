"""The widget's websocket, routed around the ALLOWED_HOSTS origin check that guards the agents' socket.

The widget runs on customers' websites, so its socket is opened from their origins; the
consumer checks each origin against its inbox's ``allowed_origins`` itself. In
``inbox_project/asgi.py``::

    "websocket": with_widget_sockets(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))))
"""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import path

from channels_app.webchat.consumers import WidgetConsumer

WIDGET_SOCKET_PREFIX = "/ws/widget/"

widget_websocket_urlpatterns = [path("ws/widget/", WidgetConsumer.as_asgi())]


def with_widget_sockets(application: Any) -> Any:
    """An ASGI app sending /ws/widget/ to the widget's consumer and every other websocket to ``application``."""
    widget_application = URLRouter(widget_websocket_urlpatterns)

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket" and scope.get("path", "").startswith(WIDGET_SOCKET_PREFIX):
            return await widget_application(scope, receive, send)
        return await application(scope, receive, send)

    return route
