"""Twilio's webhook signature, and the decorator every Twilio webhook view wears.

Twilio signs the exact URL it was told to call (so the public one, behind any proxy) plus
every posted parameter; the SDK's validator also accepts that URL with and without the
default port, as Twilio's own signing is inconsistent about it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.encoding import escape_uri_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from conversations.api.errors import error_body
from conversations.models import Inbox
from conversations.services import ServiceError

logger = logging.getLogger(__name__)

InboxView = Callable[[HttpRequest, Inbox], HttpResponse]


def signed_url(request: HttpRequest) -> str:
    """The URL Twilio called, as configured at Twilio: PUBLIC_BASE_URL, our path, the raw query."""
    query = request.META.get("QUERY_STRING", "")
    url = settings.PUBLIC_BASE_URL.rstrip("/") + escape_uri_path(request.path)
    return f"{url}?{query}" if query else url


def signature_is_valid(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        # Without a token anyone could compute a "valid" signature: refuse everything.
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    return bool(RequestValidator(token).validate(signed_url(request), request.POST, signature, algorithm=algorithm))


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def twilio_webhook(*kinds: str) -> Callable[[InboxView], Callable[..., HttpResponse]]:
    """A signed Twilio webhook for inboxes of ``kinds``, addressed by the inbox's webhook token.

    Unknown token: 404. Missing or wrong signature: 403, before anything is read or stored.
    A refused change (bad input) is a 400 with the service's message: Twilio retries 5xx only.
    """

    def decorator(view: InboxView) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, webhook_token: str) -> HttpResponse:
            inbox = Inbox.objects.filter(webhook_token=webhook_token, kind__in=kinds, is_active=True).first()
            if inbox is None:
                return error_response(404, "not_found", "No active Twilio inbox has this webhook address.")
            if not signature_is_valid(request):
                logger.warning("Refused a badly signed Twilio webhook for inbox %s at %s", inbox.pk, request.path)
                return error_response(
                    403, "bad_signature", "The X-Twilio-Signature header is missing or does not match this request."
                )
            try:
                return view(request, inbox)
            except ServiceError as exc:
                return error_response(400, "invalid", "; ".join(exc.messages))

        # Signed by Twilio instead of carrying a CSRF token.
        return csrf_exempt(require_POST(wrapped))

    return decorator
