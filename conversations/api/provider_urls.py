"""The exact URLs to configure at each provider for an inbox, built from ``PUBLIC_BASE_URL``.

One function, shared by the API's inbox representation and the channels' own pages, so the URL a
supervisor is told to paste is always the URL the channel serves.
"""

from __future__ import annotations

from typing import TypedDict

from django.conf import settings
from django.utils.html import escape

from conversations.models import ChannelKind, Inbox


class ProviderUrls(TypedDict):
    twilio_messages_url: str | None
    twilio_status_callback_url: str | None
    twilio_voice_url: str | None
    api_inbound_url: str | None
    widget_snippet: str | None


def provider_urls(inbox: Inbox, *, base_url: str | None = None) -> ProviderUrls:
    """What to configure for ``inbox``: the fields its channel kind does not use are None."""
    base = (base_url if base_url is not None else settings.PUBLIC_BASE_URL).rstrip("/")
    token = inbox.webhook_token
    twilio = f"{base}/channels/twilio/{token}"
    urls = ProviderUrls(
        twilio_messages_url=None,
        twilio_status_callback_url=None,
        twilio_voice_url=None,
        api_inbound_url=None,
        widget_snippet=None,
    )
    if inbox.kind in (ChannelKind.SMS, ChannelKind.WHATSAPP):
        urls["twilio_messages_url"] = f"{twilio}/messages/"
        urls["twilio_status_callback_url"] = f"{twilio}/status/"
    elif inbox.kind == ChannelKind.VOICE:
        urls["twilio_voice_url"] = f"{twilio}/voice/"
        urls["twilio_status_callback_url"] = f"{twilio}/status/"
    elif inbox.kind == ChannelKind.API:
        urls["api_inbound_url"] = f"{base}/channels/api/{inbox.pk}/messages/"
    elif inbox.kind == ChannelKind.WEBCHAT:
        urls["widget_snippet"] = (
            f'<script src="{escape(base)}/static/webchat/widget.js" data-inbox="{escape(token)}" async></script>'
        )
    return urls
