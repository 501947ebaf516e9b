"""Writing metric facts and daily rollups.

``record_event`` is the hook that ``conversations.services._record`` calls in the same
transaction as the event: the facts that event completes are written at once. The rollup task
(``refresh``) and the backfill (``rebuild``) replay whole conversations with the same code and
replace their facts, then recompute the affected days' rollups, so running either twice changes
nothing and events written without the hook (imports, the demo seed) are picked up too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.metrics import FACTLESS_KINDS, RELEVANT_KINDS, ConversationInfo, EventRow, Fact, local_day, replay
from analytics.models import AnalyticsState, DailyRollup, FactKind, MetricFact
from conversations.models import Conversation, ConversationEvent

logger = logging.getLogger(__name__)

# Events are read again this far behind the last one seen: a transaction that took its id
# earlier but committed later is not missed.
EVENT_ID_OVERLAP = 1000
CHUNK = 500


def _minutes(value: int | None) -> float | None:
    return None if value is None else value * 60.0


def conversation_info(conversation: Conversation) -> ConversationInfo:
    policy = conversation.sla_policy
    inbox = conversation.inbox
    return ConversationInfo(
        id=conversation.pk,
        inbox_id=conversation.inbox_id,
        channel=inbox.kind,
        created_at=conversation.created_at,
        handed_off_at=conversation.handed_off_at,
        team_id=conversation.team_id,
        business_hours=inbox.business_hours or (policy.business_hours if policy else None),
        sla_first_response=_minutes(policy.first_response_minutes) if policy else None,
        sla_next_response=_minutes(policy.next_response_minutes) if policy else None,
        sla_resolution=_minutes(policy.resolution_minutes) if policy else None,
        sla_hours=policy.business_hours if policy else None,
    )


def _event_rows(conversation_id: int) -> list[EventRow]:
    rows = (
        ConversationEvent.objects.filter(conversation_id=conversation_id, kind__in=RELEVANT_KINDS)
        .order_by("created_at", "id")
        .values_list("id", "kind", "actor_kind", "actor_id", "data", "created_at")
    )
    return [EventRow(*row) for row in rows]


def _fact_row(info: ConversationInfo, fact: Fact) -> MetricFact:
    return MetricFact(
        conversation_id=info.id,
        event_id=fact.event_id,
        kind=fact.kind,
        occurred_at=fact.at,
        day=local_day(fact.at),
        inbox_id=info.inbox_id,
        channel=info.channel,
        team_id=fact.team_id,
        agent_id=fact.agent_id,
        seconds=fact.seconds,
        business_seconds=fact.business_seconds,
        active_seconds=fact.active_seconds,
        amount=fact.amount,
        sla_met=fact.sla_met,
    )


def record_event(event: ConversationEvent) -> None:
    """Write the facts that ``event`` completes (called inside the service's transaction)."""
    if event.kind not in RELEVANT_KINDS or event.kind in FACTLESS_KINDS:
        return  # every customer message would otherwise replay the whole conversation, for nothing
    conversation = Conversation.objects.select_related("inbox__business_hours", "sla_policy__business_hours").get(
        pk=event.conversation_id
    )
    info = conversation_info(conversation)
    facts = [f for f in replay(info, _event_rows(conversation.pk)) if f.event_id == event.pk]
    if facts:
        MetricFact.objects.bulk_create([_fact_row(info, f) for f in facts], ignore_conflicts=True)


def replace_facts(conversation_ids: Iterable[int]) -> set[date]:
    """Replay these conversations and rewrite their facts; return every day whose facts changed."""
    days: set[date] = set()
    ids = sorted(set(conversation_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with transaction.atomic():
            # The services hold this lock while they record events: a replay never races a hook.
            conversations = list(
                Conversation.objects.select_for_update(of=("self",))
                .select_related("inbox__business_hours", "sla_policy__business_hours")
                .filter(pk__in=chunk)
                .order_by("pk")
            )
            events: dict[int, list[EventRow]] = {c.pk: [] for c in conversations}
            rows = (
                ConversationEvent.objects.filter(conversation_id__in=list(events), kind__in=RELEVANT_KINDS)
                .order_by("created_at", "id")
                .values_list("conversation_id", "id", "kind", "actor_kind", "actor_id", "data", "created_at")
            )
            for conversation_id, *rest in rows:
                events[conversation_id].append(EventRow(*rest))
            old = MetricFact.objects.filter(conversation_id__in=chunk)
            days.update(old.values_list("day", flat=True).distinct())
            old.delete()
            new_rows = []
            for conversation in conversations:
                info = conversation_info(conversation)
                new_rows += [_fact_row(info, fact) for fact in replay(info, events[conversation.pk])]
            MetricFact.objects.bulk_create(new_rows, batch_size=2000)
            days.update(row.day for row in new_rows)
    return days


def _kind(kind: str) -> Q:
    return Q(kind=kind)


def _count(kind: str) -> Count:
    return Count("id", filter=_kind(kind))


def _sum(field: str, kind: str, *, integer: bool = False) -> Coalesce:
    return Coalesce(Sum(field, filter=_kind(kind)), Value(0 if integer else 0.0))


RESPONSE_KINDS = (FactKind.FIRST_RESPONSE, FactKind.NEXT_RESPONSE, FactKind.RESOLUTION)


def _rollup_rows(days: Sequence[date]) -> QuerySet[Any, Any]:
    return (
        MetricFact.objects.filter(day__in=list(days))
        .values("day", "inbox_id", "channel", "team_id", "agent_id")
        .annotate(
            new=_count(FactKind.CREATED),
            assistant_started=_count(FactKind.ASSISTANT_STARTED),
            handoffs=_count(FactKind.HANDOFF),
            assistant_resolved=_count(FactKind.ASSISTANT_RESOLVED),
            reopened=_count(FactKind.REOPENED),
            backlog_in=_count(FactKind.BACKLOG_IN),
            backlog_out=_count(FactKind.BACKLOG_OUT),
            handled=_count(FactKind.HANDLED),
            first_responses=_count(FactKind.FIRST_RESPONSE),
            first_response_seconds=_sum("seconds", FactKind.FIRST_RESPONSE),
            first_response_business_seconds=_sum("business_seconds", FactKind.FIRST_RESPONSE),
            next_responses=_count(FactKind.NEXT_RESPONSE),
            next_response_seconds=_sum("seconds", FactKind.NEXT_RESPONSE),
            next_response_business_seconds=_sum("business_seconds", FactKind.NEXT_RESPONSE),
            resolutions=_count(FactKind.RESOLUTION),
            resolution_seconds=_sum("seconds", FactKind.RESOLUTION),
            resolution_business_seconds=_sum("business_seconds", FactKind.RESOLUTION),
            resolution_messages=_sum("amount", FactKind.RESOLUTION, integer=True),
            resolution_active_seconds=_sum("active_seconds", FactKind.RESOLUTION),
            sla_measured=Count("id", filter=Q(kind__in=RESPONSE_KINDS, sla_met__isnull=False)),
            sla_met=Count("id", filter=Q(kind__in=RESPONSE_KINDS, sla_met=True)),
            csat_responses=_count(FactKind.CSAT),
            csat_total=_sum("amount", FactKind.CSAT, integer=True),
            csat_satisfied=Count("id", filter=Q(kind=FactKind.CSAT, amount__gte=4)),
        )
        .order_by()
    )


def rollup_days(days: Iterable[date]) -> int:
    """Recompute the rollups of these days from their facts; return how many rows were written."""
    wanted = sorted(set(days))
    written = 0
    for start in range(0, len(wanted), 31):
        chunk = wanted[start : start + 31]
        with transaction.atomic():
            DailyRollup.objects.filter(day__in=chunk).delete()
            rows = [DailyRollup(**values) for values in _rollup_rows(chunk)]
            DailyRollup.objects.bulk_create(rows, batch_size=2000)
            written += len(rows)
    return written


_ADVISORY_LOCK = 7_310_001  # any number of our own, the same in every process
_local_lock = threading.Lock()


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Refreshes and rebuilds run one at a time, without a transaction held open for the whole run.

    Each chunk of conversations and days commits on its own, so a long rebuild never keeps the
    conversations it has replayed locked against the services.
    """
    if connection.vendor != "postgresql":
        with _local_lock:  # embedded mode: one process
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_ADVISORY_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_LOCK])


def _save_state(last_event_id: int) -> None:
    AnalyticsState.objects.update_or_create(
        pk=1, defaults={"last_event_id": last_event_id, "refreshed_at": timezone.now()}
    )


def refresh() -> int:
    """Catch up with the events written since the last run; return how many days were recomputed."""
    with _one_at_a_time():
        state = AnalyticsState.objects.filter(pk=1).first()
        last = state.last_event_id if state else 0
        since = max(0, last - EVENT_ID_OVERLAP)
        latest = ConversationEvent.objects.aggregate(latest=Max("id"))["latest"] or 0
        touched = (
            ConversationEvent.objects.filter(id__gt=since, id__lte=latest, kind__in=RELEVANT_KINDS)
            .order_by()
            .values_list("conversation_id", flat=True)
            .distinct()
        )
        days = replace_facts(list(touched))
        rollup_days(days)
        _save_state(max(last, latest))
    return len(days)


def rebuild() -> tuple[int, int]:
    """Rebuild every fact and rollup from the events; return (conversations, days)."""
    with _one_at_a_time():
        latest = ConversationEvent.objects.aggregate(latest=Max("id"))["latest"] or 0
        ids = list(Conversation.objects.order_by("pk").values_list("pk", flat=True))
        days = replace_facts(ids)
        # Facts of conversations deleted since: theirs went with them (cascade); their days remain.
        days.update(DailyRollup.objects.values_list("day", flat=True).distinct())
        rollup_days(days)
        _save_state(latest)
    return len(ids), len(days)
