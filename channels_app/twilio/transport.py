"""Outbound SMS and WhatsApp through the twilio SDK.

Called by the ``send_outbound_message`` task after the reply is committed as queued; it
only talks to Twilio and says what happened (the task records it). Twilio then reports
delivery to our status callback, which names the message so that an early callback finds it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import requests
from django.utils import timezone
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

from channels_app.transports import SendResult, TransportError, register
from channels_app.twilio.client import is_configured, public_url, twilio_client
from conversations import channel_config, identities
from conversations.models import Conversation, Direction, Message

WHATSAPP_WINDOW = timedelta(hours=24)
OUTSIDE_WHATSAPP_WINDOW = "Outside WhatsApp's 24-hour window: send an approved template instead"


def whatsapp_template(message: Message) -> dict[str, Any] | None:
    template = (message.metadata or {}).get("whatsapp_template")
    return template if isinstance(template, dict) else None


def whatsapp_window_open(conversation: Conversation, *, now: datetime | None = None) -> bool:
    """Whether WhatsApp still accepts a free-form reply: the customer wrote in the last 24 hours."""
    last_inbound = conversation.last_inbound_at
    return last_inbound is not None and (now or timezone.now()) - last_inbound <= WHATSAPP_WINDOW


def reply_refusal(conversation: Conversation, *, template: bool = False, now: datetime | None = None) -> str | None:
    """Why a reply cannot be sent on this conversation's channel right now, or None.

    For the composer and the API to call before queuing a reply; the transport checks again.
    """
    if conversation.inbox.kind == "whatsapp" and not template and not whatsapp_window_open(conversation, now=now):
        return OUTSIDE_WHATSAPP_WINDOW
    return None


def _recipient(message: Message, kind: str) -> str:
    """The number the customer wrote from in this conversation (else their newest of that kind)."""
    conversation = message.conversation
    identity_kind = "whatsapp" if kind == "whatsapp" else "phone"
    raw = ""
    last_inbound = (
        conversation.messages.filter(direction=Direction.INBOUND)
        .order_by("-created_at", "-id")
        .values_list("metadata", flat=True)
        .first()
    )
    if isinstance(last_inbound, dict):
        raw = str((last_inbound.get("twilio") or {}).get("from") or "")
    if not raw:
        identity = conversation.contact.identities.filter(kind=identity_kind).order_by("-created_at").first()
        raw = identity.value if identity is not None else ""
    if not raw:
        channel = "WhatsApp number" if kind == "whatsapp" else "phone number"
        raise TransportError(f"{conversation.contact} has no {channel} to send to.", permanent=True)
    try:
        number = identities.normalize_phone(raw)
    except identities.InvalidIdentity as exc:
        raise TransportError(f"Cannot send to {raw!r}: {exc}.", permanent=True) from None
    return f"whatsapp:{number}" if kind == "whatsapp" else number


def _sender(message: Message, kind: str) -> dict[str, str]:
    config = message.conversation.inbox.typed_config
    if not isinstance(config, channel_config.TwilioConfig):
        raise TransportError("This inbox is not a Twilio inbox.", permanent=True)
    if config.messaging_service_sid:
        return {"messaging_service_sid": config.messaging_service_sid}
    if config.phone_number:
        return {"from_": f"whatsapp:{config.phone_number}" if kind == "whatsapp" else config.phone_number}
    raise TransportError("The inbox has no Twilio number or messaging service configured.", permanent=True)


def _content(message: Message, kind: str) -> dict[str, str]:
    template = whatsapp_template(message) if kind == "whatsapp" else None
    if template is not None:
        content_sid = str(template.get("content_sid") or "")
        if not content_sid.startswith("HX"):
            raise TransportError("The WhatsApp template has no valid content_sid (HX...).", permanent=True)
        variables = template.get("variables") or {}
        if not isinstance(variables, dict):
            raise TransportError("The WhatsApp template's variables must be an object.", permanent=True)
        return {"content_sid": content_sid, "content_variables": json.dumps(variables)}
    refusal = reply_refusal(message.conversation)
    if refusal:
        raise TransportError(refusal, permanent=True)
    if message.attachments.exists():
        raise TransportError("Attachments cannot be sent by SMS or WhatsApp yet; send a link instead.", permanent=True)
    if not message.body.strip():
        raise TransportError("The message is empty.", permanent=True)
    return {"body": message.body}


def _provider_error(exc: TwilioException) -> TransportError:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if isinstance(exc, TwilioRestException):
        text = str(exc.msg).removeprefix("Unable to create record: ").strip()
    elif isinstance(exc, TwilioServiceException):
        text = str(exc.detail or exc.title)
    else:
        text = str(exc)
    reason = f"{text or 'Twilio refused the message.'}" + (f" (Twilio error {code})" if code else "")
    temporary = not isinstance(status, int) or status == 429 or status >= 500
    return TransportError(reason, permanent=not temporary)


@register("sms")
@register("whatsapp")
def send_twilio_message(message: Message) -> SendResult:
    kind = message.conversation.inbox.kind
    if not is_configured():
        raise TransportError("Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN).", permanent=True)
    params: dict[str, Any] = {
        "to": _recipient(message, kind),
        **_sender(message, kind),
        **_content(message, kind),
        "status_callback": f"{public_url('twilio:status', message.inbox.webhook_token)}?message={message.pk}",
    }
    try:
        sent = twilio_client().messages.create(**params)
    except TwilioException as exc:
        raise _provider_error(exc) from exc
    except requests.RequestException as exc:
        raise TransportError(f"Could not reach Twilio: {type(exc).__name__}", permanent=False) from exc
    return SendResult(status="sent", channel_message_id=sent.sid)
