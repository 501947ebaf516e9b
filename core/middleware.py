"""The client's address, as the load balancer saw it, and never as the client says it is.

Behind N proxies that each append to X-Forwarded-For, the last N entries were written by
proxies we run and the one before them is the address that connected to the first proxy;
everything further left was sent by the client and may be anything. With
``TRUSTED_PROXY_HOPS=N`` this middleware puts that address in ``REMOTE_ADDR``, which the login,
token and widget rate limits key on. With 0 (the default, for servers reached directly)
X-Forwarded-For is ignored. (daphne's own ``--proxy-headers`` takes the leftmost entry, the
one the client chose, so the Procfile does not use it.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def forwarded_client(forwarded_for: str, hops: int) -> str | None:
    """The address ``hops`` proxies from the right of an X-Forwarded-For value, or None if it is too short."""
    entries = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if hops <= 0 or len(entries) < hops:
        return None
    return entries[-hops]


class ClientAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        hops = settings.TRUSTED_PROXY_HOPS
        if hops:
            address = forwarded_client(str(request.META.get("HTTP_X_FORWARDED_FOR", "")), hops)
            if address:
                request.META["REMOTE_ADDR"] = address
        return self.get_response(request)
