"""A Content-Security-Policy on our own pages: scripts and styles only from our origin, no inline script.

Whatever a customer, a contact or the assistant wrote is escaped when rendered; this is the second
wall, so that if something ever slipped through, the browser would still refuse to run it.

The back office (Django's admin) and the API docs (Swagger UI) ship templates with inline code
we do not control; they get a policy that allows it but still no other origin.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self' {websocket}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Third-party templates with inline scripts and styles: still nothing from elsewhere.
LENIENT_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
LENIENT_PREFIXES = ("/admin/", "/api/docs/")


def policy_for(request: HttpRequest) -> str:
    if request.path.startswith(LENIENT_PREFIXES):
        return LENIENT_POLICY
    # The agents' websocket is on our own host; naming it explicitly covers browsers whose 'self' excludes ws:.
    try:
        host = request.get_host()
    except DisallowedHost:
        return POLICY.format(websocket="")
    scheme = "wss" if request.is_secure() else "ws"
    return POLICY.format(websocket=f"{scheme}://{host}")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and "html" in response.get("Content-Type", ""):
            response["Content-Security-Policy"] = policy_for(request)
        return response
