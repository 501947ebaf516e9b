"""The twilio SDK client and the public URLs Twilio calls back, built from settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# Seconds for one call to Twilio's REST API: a send runs in a Celery task, which retries.
API_TIMEOUT_SECONDS = 10.0


class _BaseUrlHttpClient(TwilioHttpClient):
    """Sends the SDK's requests for *.twilio.com to another base URL (TWILIO_API_BASE_URL).

    The SDK hard-codes each domain's base URL (``https://api.twilio.com``); rewriting at the
    HTTP layer covers every resource, and regional/edge host names too.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host == "twilio.com" or host.endswith(".twilio.com"):
            url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def is_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN)


def twilio_client() -> Client:
    http_client: TwilioHttpClient
    if settings.TWILIO_API_BASE_URL:
        http_client = _BaseUrlHttpClient(settings.TWILIO_API_BASE_URL, timeout=API_TIMEOUT_SECONDS)
    else:
        http_client = TwilioHttpClient(timeout=API_TIMEOUT_SECONDS)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


def public_url(view_name: str, webhook_token: str) -> str:
    """The address Twilio must call for one of an inbox's webhooks, e.g. ``twilio:status``."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse(view_name, args=[webhook_token])


def webhook_urls(webhook_token: str, kind: str) -> dict[str, str]:
    """What to paste into Twilio's console for an inbox (the inbox API can show these)."""
    if kind == "voice":
        return {"voice_url": public_url("twilio:voice", webhook_token)}
    return {
        "messaging_url": public_url("twilio:messages", webhook_token),
        "status_callback_url": public_url("twilio:status", webhook_token),
    }
