"""Notifying agents: in the app (the notification list and a live ``notification.created``) and by email.

``notify`` is the one way a notification is made. It leaves out the person who caused the
change (nobody needs telling what they just did), honours each recipient's preferences per
type and medium, writes the in-app notifications in the caller's transaction, and sends the
emails after commit through Django's email backend. Inside ``realtime.muted()`` (imports of
history, such as the demo data) nobody is notified.

Who hears of what (the services call the ``on_*`` helpers below):

- new conversation: the inbox's members (made by the worker after commit, see ``on_new_conversation``);
- assigned to you: the new assignee;
- customer replied: the assignee;
- urgent conversation: the team's agents and the assignee (the inbox's members without a team);
- handoff from the assistant: the assignee, or the team's agents while nobody has it;
- SLA warning and breach: the assignee and the team's supervisors (``conversations.sla``);
- follow-up reminder: the agent who asked for it (``conversations.reminders``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from conversations.models import (
    AgentProfile,
    Conversation,
    Notification,
    NotificationKind,
    default_notification_preferences,
    preferences_want,
)
from conversations.realtime import Personal, inbox_group, is_muted, send_events_on_commit, user_group
from core import outbox

logger = logging.getLogger(__name__)

MEDIA = ("in_app", "email")


def notification_payload(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "conversation_id": notification.conversation_id,
        "created_at": notification.created_at.isoformat(),
    }


def notify(
    *,
    recipient_ids: Iterable[int | None],
    kind: str,
    conversation: Conversation | None,
    actor: Any,
    title: str,
    body: str = "",
    via: str | None = None,
) -> list[Notification]:
    """Tell each recipient (except ``actor``) of ``kind``, as each one chose; the in-app notifications made.

    ``via``: a group every recipient's sockets are in (an inbox's, for its members), whose one
    message then carries all their live notifications (``realtime.Personal``).
    """
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    if is_muted():  # an import of history (the demo data): nobody is to be told of it now
        return []
    actor_id = getattr(actor, "pk", None)
    ids = {pk for pk in recipient_ids if pk is not None and pk != actor_id}
    if not ids:
        return []
    # A new conversation tells every member of the inbox, hundreds of them: their preferences are
    # read as values, not as users, and their notifications written in one INSERT.
    recipients = list(
        get_user_model()
        .objects.filter(pk__in=ids, is_active=True)
        .order_by("pk")
        .values_list("pk", "email", "agent_profile__notification_preferences")
    )
    now = timezone.now()
    made = Notification.objects.bulk_create(
        Notification(
            recipient_id=user_id, kind=kind, conversation=conversation, title=title[:200], body=body, created_at=now
        )
        for user_id, _email, preferences in recipients
        if preferences_want(preferences, kind, "in_app")
    )
    send_events_on_commit(
        [
            (
                {"type": "notification.created", "notification": notification_payload(notification)},
                [Personal(notification.recipient_id, via=via) if via else user_group(notification.recipient_id)],
            )
            for notification in made
        ]
    )
    by_recipient = {notification.recipient_id: notification for notification in made}
    for user_id, email, preferences in recipients:
        if email and preferences_want(preferences, kind, "email"):
            _email_on_commit(
                user_id, kind=kind, title=title, body=body, conversation=conversation, made=by_recipient.get(user_id)
            )
    return made


def _email_on_commit(
    user_id: int, *, kind: str, title: str, body: str, conversation: Conversation | None, made: Notification | None
) -> None:
    from conversations.tasks import send_notification_email

    args = (user_id, title[:200], body, conversation.pk if conversation else None, made.pk if made else None)
    transaction.on_commit(lambda: send_notification_email.delay(*args))


def send_email(
    *, user_id: int, title: str, body: str, conversation_id: int | None, notification_id: int | None
) -> bool:
    """Send one notification email (after commit, from the task); whether it went."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return False
    lines = [body] if body else []
    if conversation_id is not None:
        path = reverse("inbox:conversation", kwargs={"conversation_id": conversation_id})
        lines.append(f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}")
    send_mail(subject=title, message="\n\n".join(lines), from_email=None, recipient_list=[user.email])
    if notification_id is not None:
        Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return True


# --- Who hears of what -----------------------------------------------------------------------


def _contact_name(conversation: Conversation) -> str:
    return conversation.contact.name or f"conversation #{conversation.pk}"


def _team_agent_ids(team_id: int | None) -> list[int]:
    if team_id is None:
        return []
    return list(AgentProfile.objects.filter(teams=team_id).values_list("user_id", flat=True))


def _inbox_member_ids(conversation: Conversation) -> list[int]:
    return list(conversation.inbox.members.values_list("pk", flat=True))


def on_new_conversation(conversation: Conversation, *, preview: str) -> None:
    """Promise the inbox's members their notification, made by the worker once the conversation commits.

    Not made here: in an inbox of 200 agents it is 200 rows and 200 live events, which held the
    customer's webhook (and the contact's and counters' locks) for most of its time (bench.live,
    profiled with py-spy: 65% of a new conversation's webhook was spent waiting for those events).
    An outbox entry (core/outbox.py) written in the caller's transaction keeps the promise even if
    the broker is down at commit; the key makes it one per conversation.
    """
    if is_muted():  # an import of history (the demo data): nobody is to be told of it now
        return
    outbox.enqueue(
        "conversations.tasks.notify_new_conversation",
        conversation.pk,
        preview,
        key=f"notify-new-conversation:{conversation.pk}",
        batched=True,  # one drain for many new conversations (core/outbox.py)
    )


def new_conversation_notify(*, conversation_id: int, preview: str) -> list[Notification]:
    """Tell the inbox's members of a new conversation (from the worker); the in-app notifications made.

    At most once per conversation, however often the task runs: a run after one whose commit went
    through (its worker died before the outbox recorded it done) finds the notifications and does
    nothing; two runs at once are serialized by the conversation's lock.
    """
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("inbox", "contact")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None:
            return []
        if Notification.objects.filter(conversation=conversation, kind=NotificationKind.NEW_CONVERSATION).exists():
            return []
        return notify(
            recipient_ids=_inbox_member_ids(conversation),
            kind=NotificationKind.NEW_CONVERSATION,
            conversation=conversation,
            actor=None,
            title=f"New conversation from {_contact_name(conversation)} ({conversation.inbox.name})",
            body=preview,
            via=inbox_group(conversation.inbox_id),  # all of them are members: their sockets are in it
        )


def on_customer_replied(conversation: Conversation, *, preview: str) -> None:
    if conversation.assignee_id is None:
        return
    notify(
        recipient_ids=[conversation.assignee_id],
        kind=NotificationKind.CUSTOMER_REPLIED,
        conversation=conversation,
        actor=None,
        title=f"{_contact_name(conversation)} replied",
        body=preview,
    )


def on_assigned(conversation: Conversation, *, actor: Any) -> None:
    if conversation.assignee_id is None:
        return
    notify(
        recipient_ids=[conversation.assignee_id],
        kind=NotificationKind.ASSIGNED,
        conversation=conversation,
        actor=actor,
        title=f"Assigned to you: {_contact_name(conversation)}",
        body=conversation.last_message_preview,
    )


def on_urgent(conversation: Conversation, *, actor: Any) -> None:
    recipients = _team_agent_ids(conversation.team_id) or _inbox_member_ids(conversation)
    notify(
        recipient_ids=[*recipients, conversation.assignee_id],
        kind=NotificationKind.URGENT,
        conversation=conversation,
        actor=actor,
        title=f"Urgent: {_contact_name(conversation)}",
        body=conversation.last_message_preview,
    )


def on_handoff(conversation: Conversation) -> None:
    if conversation.assignee_id is not None:
        recipients: list[int] = [conversation.assignee_id]
    else:
        recipients = _team_agent_ids(conversation.team_id) or _inbox_member_ids(conversation)
    reason = (conversation.assistant_state or {}).get("handoff_reason", "")
    notify(
        recipient_ids=recipients,
        kind=NotificationKind.HANDOFF,
        conversation=conversation,
        actor=None,
        title=f"Handed off by the assistant: {_contact_name(conversation)}",
        body=conversation.summary or (f"Reason: {reason}" if reason else ""),
    )


# --- Preferences -----------------------------------------------------------------------------


def preferences_of(user: Any) -> dict[str, dict[str, bool]]:
    """Every type with both media, as ``user`` chose or by default."""
    profile = AgentProfile.objects.filter(user=user).first()
    chosen = profile.notification_preferences if profile is not None else {}
    chosen = chosen if isinstance(chosen, dict) else {}
    result = default_notification_preferences()
    for kind, media in result.items():
        mine = chosen.get(kind)
        if isinstance(mine, dict):
            media.update({medium: bool(mine[medium]) for medium in MEDIA if medium in mine})
    return result


def notification_preferences_set(*, user: Any, changes: dict[str, dict[str, bool]]) -> dict[str, dict[str, bool]]:
    """Change ``user``'s own choices per type and medium; types and media not given keep theirs."""
    unknown = set(changes) - set(NotificationKind.values)
    if unknown:
        raise ValueError(f"unknown notification types: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        profile, _ = AgentProfile.objects.select_for_update().get_or_create(user=user)
        preferences = preferences_of(user)
        for kind, media in changes.items():
            preferences[kind].update({medium: bool(value) for medium, value in media.items() if medium in MEDIA})
        profile.notification_preferences = preferences
        profile.save(update_fields=["notification_preferences"])
    return preferences
