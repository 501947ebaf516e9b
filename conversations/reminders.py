"""Follow-up reminders: an agent asks to be reminded of a conversation at a given time.

Setting one is a service like any other change; the sweep (Celery beat, every minute) reads
only unfired reminders that are due through a partial index, claims them with ``SKIP LOCKED``
and marks each fired in the same transaction as its notification, so two sweeps never remind
twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from conversations import notifications
from conversations.models import Conversation, NotificationKind, Reminder
from conversations.services import ServiceError, _check_assignable

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
NOTE_LENGTH = 500
FURTHEST = timedelta(days=366)


def reminder_set(*, conversation: Conversation, user: Any, remind_at: datetime, note: str = "") -> Reminder:
    """Remind ``user`` of ``conversation`` at ``remind_at`` (in the future, within a year)."""
    now = timezone.now()
    if remind_at <= now:
        raise ServiceError("Set a reminder for a time in the future.")
    if remind_at > now + FURTHEST:
        raise ServiceError("A reminder can be at most a year ahead.")
    if len(note) > NOTE_LENGTH:
        raise ServiceError(f"A reminder note is at most {NOTE_LENGTH} characters.")
    conversation = Conversation.objects.select_related("inbox").get(pk=conversation.pk)
    _check_assignable(conversation, user)
    return Reminder.objects.create(conversation=conversation, user=user, remind_at=remind_at, note=note.strip())


def reminder_cancel(*, reminder: Reminder, user: Any) -> None:
    if reminder.user_id != user.pk:
        raise ServiceError("You can only cancel your own reminders.")
    Reminder.objects.filter(pk=reminder.pk, fired_at__isnull=True).delete()


def reminders_due(now: datetime) -> QuerySet[Reminder]:
    return Reminder.objects.filter(fired_at__isnull=True, remind_at__lte=now).order_by("remind_at")


def reminder_fire(*, reminder: Reminder, now: datetime) -> None:
    """Notify the reminder's agent and mark it fired (the caller holds its lock)."""
    conversation = reminder.conversation
    who = conversation.contact.name or f"conversation #{conversation.pk}"
    notifications.notify(
        recipient_ids=[reminder.user_id],
        kind=NotificationKind.REMINDER,
        conversation=conversation,
        actor=None,
        title=f"Reminder: {who}",
        body=reminder.note,
    )
    reminder.fired_at = now
    reminder.save(update_fields=["fired_at"])


def run_reminders() -> int:
    """Fire every due reminder, one bounded batch per transaction; how many fired."""
    fired = 0
    while True:
        now = timezone.now()
        with transaction.atomic():
            batch = list(
                reminders_due(now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("conversation__contact")[:BATCH_SIZE]
            )
            for reminder in batch:
                reminder_fire(reminder=reminder, now=now)
        fired += len(batch)
        if len(batch) < BATCH_SIZE:
            if fired:
                logger.info("reminders fired: %s", fired)
            return fired
