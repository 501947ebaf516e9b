"""HTTP and websockets in one ASGI application (served by daphne)."""

import os

from core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox_project.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from channels_app.webchat.routing import with_widget_sockets  # noqa: E402
from core.collector import settle  # noqa: E402
from core.frames import KeepServerSend  # noqa: E402
from inbox_project.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The widget's socket is used from customers' websites: it checks each inbox's allowed origins itself.
        # Everything else (the agents' socket) only from our own hosts.
        # The server's own send kept for the agents' live events (core/frames.py).
        "websocket": KeepServerSend(
            with_widget_sockets(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))))
        ),
    }
)

# What is loaded now is kept out of the garbage collector's full passes (core/collector.py).
settle()
