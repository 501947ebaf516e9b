"""Auto-status timers: idle active conversations become pending, resolved ones are archived, snoozes end.

Each sweep costs O(due), not O(all): it reads only rows a partial index says are due (the
indexes on Conversation: active by last message, resolved by resolution time, snoozed by
wake time), in bounded batches claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``, so two
workers or two beat schedulers running the same sweep never move one conversation twice.
Every transition goes through the status service and is recorded like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, QuerySet
from django.utils import timezone

from conversations.models import Conversation, Inbox, Status
from conversations.services import conversation_set_status

logger = logging.getLogger(__name__)

BATCH_SIZE = 200


def _shortest(field: str) -> int:
    """The smallest setting of any inbox: a safe first cut that lets the partial index do the work."""
    value = Inbox.objects.order_by(field).values_list(field, flat=True).first()
    return int(value) if value is not None else 0


def idle_active_due(now: datetime) -> QuerySet[Conversation]:
    """Active conversations without a new message for their inbox's pending timeout."""
    cutoff = now - timedelta(minutes=_shortest("pending_after_minutes"))
    timeout = ExpressionWrapper(F("inbox__pending_after_minutes") * timedelta(minutes=1), output_field=DurationField())
    return (
        Conversation.objects.filter(status=Status.ACTIVE, last_message_at__lt=cutoff)
        .alias(timeout=timeout)
        .filter(last_message_at__lt=now - F("timeout"))
    )


def resolved_due(now: datetime) -> QuerySet[Conversation]:
    """Resolved conversations older than their inbox's archive delay."""
    cutoff = now - timedelta(days=_shortest("archive_after_days"))
    delay = ExpressionWrapper(F("inbox__archive_after_days") * timedelta(days=1), output_field=DurationField())
    return (
        Conversation.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff)
        .alias(delay=delay)
        .filter(resolved_at__lt=now - F("delay"))
    )


def snoozed_due(now: datetime) -> QuerySet[Conversation]:
    return Conversation.objects.filter(status=Status.PENDING, snoozed_until__isnull=False, snoozed_until__lte=now)


def _sweep(due: Callable[[datetime], QuerySet[Conversation]], status: str, reason: str) -> int:
    """Move every due conversation to ``status``, one bounded batch per transaction."""
    moved = 0
    while True:
        now = timezone.now()
        with transaction.atomic():
            batch = list(due(now).select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:BATCH_SIZE])
            for conversation in batch:
                conversation_set_status(conversation=conversation, status=status, actor=None, reason=reason)
        moved += len(batch)
        if len(batch) < BATCH_SIZE:
            return moved


def run_status_timers() -> dict[str, int]:
    """One pass of every auto-status timer; what each moved (logged when anything did)."""
    result = {
        "pending": _sweep(idle_active_due, Status.PENDING, "timer:no_new_message"),
        "archived": _sweep(resolved_due, Status.ARCHIVED, "timer:archive_delay"),
        "woken": _sweep(snoozed_due, Status.ACTIVE, "timer:snooze_ended"),
    }
    if any(result.values()):
        logger.info("status timers moved %s", result)
    return result
