"""Django's HTTP side under an ASGI server, with the middleware and the view in one thread hop.

Django's own ASGI handler builds its middleware chain for async: each of Django's middleware
then runs every hook in a thread of its own (``sync_to_async`` per ``process_request`` and
``process_response``), and each synchronous one of ours hops back. With ten middleware and a
synchronous view that was about twenty hops per request, most of a web server's CPU for a
small request (bench.live, py-spy: the Twilio webhook's view was a tenth of its request).

Every view here is synchronous, so this handler builds the chain as for WSGI and runs the
whole of it, view included, in one ``sync_to_async`` call: the same thread as before (the
process's one thread for synchronous code), the same middleware in the same order, the same
streaming of responses, one hop.
"""

from __future__ import annotations

from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response


def get_asgi_application() -> Any:
    """As ``django.core.asgi.get_asgi_application``, with :class:`OneHopASGIHandler`."""
    django.setup(set_prefix=False)
    return OneHopASGIHandler()
