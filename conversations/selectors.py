"""Reads that views, the API, the admin and the websocket share: above all, who may see what."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from conversations.models import Conversation, Inbox


def is_supervisor(user: Any) -> bool:
    return bool(user.is_active and (user.is_staff or user.is_superuser))


def inbox_ids_visible_to(user: Any) -> list[int]:
    """Supervisors see every inbox; an agent sees the inboxes she is a member of."""
    if not user.is_authenticated or not user.is_active:
        return []
    if is_supervisor(user):
        return list(Inbox.objects.values_list("pk", flat=True))
    return list(Inbox.objects.filter(members=user).values_list("pk", flat=True))


def conversations_visible_to(user: Any) -> QuerySet[Conversation]:
    if not user.is_authenticated or not user.is_active:
        return Conversation.objects.none()
    if is_supervisor(user):
        return Conversation.objects.all()
    return Conversation.objects.filter(inbox__members=user)


def user_can_see_inbox(user: Any, inbox: Inbox) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return is_supervisor(user) or inbox.members.filter(pk=user.pk).exists()
