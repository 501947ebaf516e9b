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
from django.db.models import Q, QuerySet
from django.utils import timezone

from conversations.models import Conversation, Inbox, Status
from conversations.services import conversation_set_status

logger = logging.getLogger(__name__)

BATCH_SIZE = 200


def _due_per_inbox(setting: str, stamp: str, unit: timedelta, now: datetime) -> Q:
    """``stamp`` older than each inbox's own ``setting`` (in ``unit``s): one range per distinct setting.

    Inboxes are few and share few distinct settings, so this stays a handful of index ranges, and
    it needs no interval arithmetic in SQL (which SQLite lacks).
    """
    due = Q(pk__in=[])
    for value in Inbox.objects.values_list(setting, flat=True).distinct():
        due |= Q(**{f"inbox__{setting}": value, f"{stamp}__lt": now - unit * value})
    return due


def idle_active_due(now: datetime) -> QuerySet[Conversation]:
    """Active conversations without a new message for their inbox's pending timeout."""
    return Conversation.objects.filter(
        _due_per_inbox("pending_after_minutes", "last_message_at", timedelta(minutes=1), now), status=Status.ACTIVE
    ).order_by("last_message_at", "pk")


def resolved_due(now: datetime) -> QuerySet[Conversation]:
    """Resolved conversations older than their inbox's archive delay."""
    return Conversation.objects.filter(
        _due_per_inbox("archive_after_days", "resolved_at", timedelta(days=1), now), status=Status.RESOLVED
    ).order_by("resolved_at", "pk")


def snoozed_due(now: datetime) -> QuerySet[Conversation]:
    return Conversation.objects.filter(
        status=Status.PENDING, snoozed_until__isnull=False, snoozed_until__lte=now
    ).order_by("snoozed_until", "pk")


def _sweep(due: Callable[[datetime], QuerySet[Conversation]], status: str, reason: str) -> int:
    """Move every due conversation to ``status``, one bounded batch per transaction."""
    moved = 0
    while True:
        now = timezone.now()
        with transaction.atomic():
            # Oldest due first, in the order of the partial index the due query reads: ordered by
            # primary key instead, the planner may walk the whole table's key index looking for them.
            batch = list(due(now).select_for_update(skip_locked=True, of=("self",))[:BATCH_SIZE])
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
