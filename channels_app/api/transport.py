"""Outbound replies on API channel inboxes: POSTed to the inbox's ``outbound_url``, signed.

Signed exactly like the outbound webhooks (``conversations.webhook_delivery``), with the
inbox's webhook token as the secret: the developer verifies ``X-Inbox-Signature`` with the
same token she sends us in ``Authorization: Bearer``. ``X-Inbox-Delivery`` is stable for a
message (``msg_<id>``), so a retried send can be recognised. A 2xx means delivered; 4xx
(other than 408 and 429) and redirects fail the message; anything else is retried by the
``send_outbound_message`` task.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from channels_app.transports import SendResult, TransportError, register
from conversations import channel_config, webhook_delivery
from conversations.models import ChannelIdentity, Direction, IdentityKind, Message
from conversations.payloads import message_payload

EVENT_TYPE = "message.outbound"


def _developer_contact_id(message: Message) -> str | None:
    """The developer's own id for the customer (her ``contact.id``), as she posted it to this inbox."""
    prefix = f"{message.conversation.inbox_id}:"
    value = (
        ChannelIdentity.objects.filter(
            contact_id=message.conversation.contact_id, kind=IdentityKind.API, value__startswith=prefix
        )
        .order_by("created_at", "pk")
        .values_list("value", flat=True)
        .first()
    )
    return value[len(prefix) :] if value else None


def _external_id(message: Message) -> str | None:
    metadata = (
        message.conversation.messages.filter(direction=Direction.INBOUND, metadata__api__has_key="external_id")
        .order_by("-created_at", "-id")
        .values_list("metadata", flat=True)
        .first()
    )
    return str(metadata["api"]["external_id"]) if isinstance(metadata, dict) else None


def outbound_payload(message: Message) -> dict[str, Any]:
    conversation = message.conversation
    data = message_payload(message)
    return {
        "id": f"msg_{message.pk}",
        "type": EVENT_TYPE,
        "created_at": timezone.now().isoformat(),
        "data": {
            "message": data,
            "contact": {
                "id": _developer_contact_id(message),
                "inbox_contact_id": conversation.contact_id,
                "name": conversation.contact.name,
            },
            "conversation": {"id": conversation.pk, "external_id": _external_id(message)},
        },
    }


@register("api")
def send_api(message: Message) -> SendResult:
    inbox = message.conversation.inbox
    config = inbox.typed_config
    url = config.outbound_url if isinstance(config, channel_config.ApiConfig) else ""
    if not url:
        raise TransportError(
            "This API inbox has no outbound_url: set it in the inbox's settings to receive replies.", permanent=True
        )
    payload = outbound_payload(message)
    result = webhook_delivery.post_signed(
        url, secret=inbox.webhook_token, event_type=EVENT_TYPE, event_id=payload["id"], payload=payload
    )
    if result.delivered:
        return SendResult(status="delivered")
    raise TransportError(result.error or "The outbound URL refused the message.", permanent=result.verdict != "retry")
