"""Reads about the assistant that views share."""

from __future__ import annotations

from django.db.models import QuerySet

from conversations.models import Conversation, Message, SenderKind


def assistant_drafts(conversation: Conversation, *, status: str | None = None) -> QuerySet[Message]:
    """The assistant's drafts in a conversation (email draft mode), oldest first; optionally only one status."""
    drafts = Message.objects.filter(
        conversation=conversation,
        sender_kind=SenderKind.ASSISTANT,
        is_private_note=True,
        metadata__has_key="assistant_draft",
    )
    if status:
        drafts = drafts.filter(metadata__assistant_draft=status)
    return drafts.order_by("created_at", "id")
