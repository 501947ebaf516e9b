"""The shapes of conversations and messages in live events (see event_schema.py)."""

from __future__ import annotations

from typing import Any

from conversations import sla
from conversations.models import Contact, Conversation, Message, Priority


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "inbox_id": conversation.inbox_id,
        "channel": conversation.inbox.kind,
        "contact_id": conversation.contact_id,
        "contact_name": conversation.contact.name,
        "status": conversation.status,
        "handler": conversation.handler,
        "priority": Priority(conversation.priority).label,
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
        "tags": sorted(tag.name for tag in conversation.tags.all()),
        "topic": conversation.topic,
        "snoozed_until": _iso(conversation.snoozed_until),
        "last_message_at": conversation.last_message_at.isoformat(),
        "last_message_preview": conversation.last_message_preview,
        "message_count": conversation.message_count,
        "sla": sla_payload(conversation),
        "updated_at": conversation.updated_at.isoformat(),
    }


def sla_payload(conversation: Conversation) -> dict[str, Any]:
    """The SLA state as the API shows it (``conversations.sla.summary``), in JSON."""
    summary = sla.summary(conversation)
    return {
        "state": summary["state"],
        "due_at": _iso(summary["due_at"]),
        "targets": {name: {**target, "due_at": _iso(target["due_at"])} for name, target in summary["targets"].items()},
    }


def sender_name(message: Message) -> str:
    if message.sender_user is not None:
        user: Any = message.sender_user
        profile = getattr(user, "agent_profile", None)
        return profile.name if profile else (user.get_full_name() or user.get_username())
    if message.sender_contact is not None:
        return message.sender_contact.name
    return {"assistant": "Assistant", "system": "System"}.get(message.sender_kind, "")


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "sender_kind": message.sender_kind,
        "sender_name": sender_name(message),
        "is_private_note": message.is_private_note,
        "body": message.body,
        "delivery_status": message.delivery_status,
        "confidence": message.confidence,
        "created_at": message.created_at.isoformat(),
        "attachments": [
            {"id": a.pk, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments.all()
        ],
    }


def contact_payload(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "name": contact.name,
        "language": contact.language,
        "location": contact.location,
        "segment": contact.segment,
        "custom_attributes": contact.custom_attributes,
        "identities": [{"kind": i.kind, "value": i.value} for i in contact.identities.all()],
        "created_at": contact.created_at.isoformat(),
    }
