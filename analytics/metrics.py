"""From a conversation's events to its metric facts: one pure replay used everywhere.

The write-time hook, the rollup task and ``rebuild_analytics`` all call :func:`replay` on the
conversation's events in order, so a fact written the moment something happened is exactly the
fact a backfill writes later. Definitions are in docs/ANALYTICS.md; the comments here say why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from analytics.business_time import Schedule, business_seconds_between
from analytics.models import FactKind
from conversations.models import EventKind, SenderKind, Status

# Only these kinds of event change a metric; the hook ignores the rest without a query.
RELEVANT_KINDS = frozenset(
    {
        EventKind.CREATED,
        EventKind.MESSAGE_IN,
        EventKind.MESSAGE_OUT,
        EventKind.STATUS,
        EventKind.HANDOFF,
        EventKind.ASSISTANT_RESOLVED,
        EventKind.TRANSFERRED,
        EventKind.CSAT,
    }
)
OPEN = {Status.ACTIVE.value, Status.PENDING.value}
# Kinds that change the replay's state but never complete a fact themselves (``_apply`` returns
# none for them): the hook has nothing to write for such an event, and skips the replay.
FACTLESS_KINDS = frozenset({EventKind.MESSAGE_IN})


@dataclasses.dataclass(frozen=True)
class ConversationInfo:
    """What the replay needs to know about the conversation besides its events."""

    id: int
    inbox_id: int
    channel: str
    created_at: datetime
    handed_off_at: datetime | None
    team_id: int | None
    business_hours: Schedule | None = None
    # SLA targets in seconds, and whether they count business hours.
    sla_first_response: float | None = None
    sla_next_response: float | None = None
    sla_resolution: float | None = None
    sla_hours: Schedule | None = None

    def assistant_first(self, events: list[EventRow]) -> bool:
        # A conversation a person takes from the start is handed off the instant it is created,
        # without a handoff event (nothing was handed over).
        if any(event.kind == EventKind.HANDOFF for event in events):
            return True
        return self.handed_off_at is None or self.handed_off_at != self.created_at


@dataclasses.dataclass(frozen=True)
class EventRow:
    id: int
    kind: str
    actor_kind: str
    actor_id: int | None
    data: dict[str, Any]
    created_at: datetime


@dataclasses.dataclass
class Fact:
    kind: str
    event_id: int
    at: datetime
    team_id: int | None
    agent_id: int | None = None
    seconds: float | None = None
    business_seconds: float | None = None
    active_seconds: float | None = None
    amount: int | None = None
    sla_met: bool | None = None


def local_day(at: datetime) -> date:
    return timezone.localtime(at).date()


@dataclasses.dataclass
class _State:
    team_id: int | None
    assistant_first: bool
    open: bool = False
    cycle_start: datetime | None = None
    cycle_messages: int = 0
    active_since: datetime | None = None
    active_seconds: float = 0.0
    first_response_from: datetime | None = None
    first_response_done: bool = False
    waiting_since: datetime | None = None
    handled_by: set[int] = dataclasses.field(default_factory=set)
    last_resolver: int | None = None


def _initial_team(info: ConversationInfo, events: list[EventRow]) -> int | None:
    for event in events:
        if event.kind == EventKind.TRANSFERRED:
            return event.data.get("from_team")
    return info.team_id


def replay(info: ConversationInfo, events: Iterable[EventRow]) -> list[Fact]:
    """Every fact that the events (in order) produce for this conversation."""
    ordered = sorted((e for e in events if e.kind in RELEVANT_KINDS), key=lambda e: (e.created_at, e.id))
    state = _State(team_id=_initial_team(info, ordered), assistant_first=info.assistant_first(ordered))
    facts: list[Fact] = []
    for event in ordered:
        facts.extend(_apply(info, state, event))
    return facts


def _duration(info: ConversationInfo, start: datetime, end: datetime) -> tuple[float, float]:
    return (end - start).total_seconds(), business_seconds_between(info.business_hours, start, end)


def _within(info: ConversationInfo, target: float | None, start: datetime, end: datetime) -> bool | None:
    if target is None:
        return None
    return business_seconds_between(info.sla_hours, start, end) <= target


def _apply(info: ConversationInfo, state: _State, event: EventRow) -> list[Fact]:
    at, kind = event.created_at, event.kind

    def fact(fact_kind: str, **values: Any) -> Fact:
        return Fact(kind=fact_kind, event_id=event.id, at=at, team_id=state.team_id, **values)

    if kind == EventKind.CREATED:
        state.open, state.cycle_start, state.active_since = True, at, at
        facts = [fact(FactKind.CREATED), fact(FactKind.BACKLOG_IN)]
        if state.assistant_first:
            facts.append(fact(FactKind.ASSISTANT_STARTED))
        else:
            state.first_response_from = at
        return facts

    if kind == EventKind.MESSAGE_IN:
        state.cycle_messages += 1
        # Next-response waits start once a person has answered; before that the first response runs.
        if state.first_response_done and state.waiting_since is None:
            state.waiting_since = at
        return []

    if kind == EventKind.MESSAGE_OUT:
        if event.actor_kind == SenderKind.ASSISTANT:
            state.cycle_messages += 1
        if event.actor_kind != SenderKind.AGENT:
            return []  # system notices (someone joined, a survey) answer nobody
        state.cycle_messages += 1
        facts = []
        if event.actor_id is not None and event.actor_id not in state.handled_by:
            state.handled_by.add(event.actor_id)
            facts.append(fact(FactKind.HANDLED, agent_id=event.actor_id))
        if not state.first_response_done:
            start = state.first_response_from or info.created_at
            seconds, business = _duration(info, start, at)
            sla = _within(info, info.sla_first_response, start, at)
            state.first_response_done = True
            state.waiting_since = None
            facts.append(
                fact(
                    FactKind.FIRST_RESPONSE,
                    agent_id=event.actor_id,
                    seconds=seconds,
                    business_seconds=business,
                    sla_met=sla,
                )
            )
        elif state.waiting_since is not None:
            seconds, business = _duration(info, state.waiting_since, at)
            sla = _within(info, info.sla_next_response, state.waiting_since, at)
            state.waiting_since = None
            facts.append(
                fact(
                    FactKind.NEXT_RESPONSE,
                    agent_id=event.actor_id,
                    seconds=seconds,
                    business_seconds=business,
                    sla_met=sla,
                )
            )
        return facts

    if kind == EventKind.HANDOFF:
        if state.first_response_from is None and not state.first_response_done:
            state.first_response_from = at  # the assistant's time does not count against people
        return [fact(FactKind.HANDOFF)]

    if kind == EventKind.ASSISTANT_RESOLVED:
        return [fact(FactKind.ASSISTANT_RESOLVED)]

    if kind == EventKind.TRANSFERRED:
        new_team = event.data.get("to_team")
        facts = []
        if state.open and new_team != state.team_id:
            # The open conversation moves from one team's backlog to the other's.
            facts.append(fact(FactKind.BACKLOG_OUT))
            state.team_id = new_team
            facts.append(fact(FactKind.BACKLOG_IN))
        state.team_id = new_team
        return facts

    if kind == EventKind.CSAT:
        rating = event.data.get("rating")
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            return []
        agent = event.data.get("agent", state.last_resolver)
        return [fact(FactKind.CSAT, agent_id=agent, amount=rating)]

    if kind == EventKind.STATUS:
        return _status_change(info, state, event, fact)
    return []


def _status_change(info: ConversationInfo, state: _State, event: EventRow, fact: Any) -> list[Fact]:
    at = event.created_at
    previous, new = event.data.get("from"), event.data.get("to")
    facts: list[Fact] = []
    if previous == Status.ACTIVE and state.active_since is not None:
        state.active_seconds += (at - state.active_since).total_seconds()
        state.active_since = None
    if new == Status.ACTIVE:
        state.active_since = at
    if new in OPEN and not state.open:
        state.open, state.cycle_start, state.cycle_messages, state.active_seconds = True, at, 0, 0.0
        if new == Status.ACTIVE:
            state.active_since = at
        facts += [fact(FactKind.REOPENED), fact(FactKind.BACKLOG_IN)]
    elif new not in OPEN and state.open:
        state.open = False
        state.waiting_since = None  # a customer's last words before closing are not a pending reply
        facts.append(fact(FactKind.BACKLOG_OUT))
        if new == Status.RESOLVED:
            start = state.cycle_start or info.created_at
            seconds, business = _duration(info, start, at)
            state.last_resolver = event.actor_id
            facts.append(
                fact(
                    FactKind.RESOLUTION,
                    agent_id=event.actor_id,
                    seconds=seconds,
                    business_seconds=business,
                    active_seconds=state.active_seconds,
                    amount=state.cycle_messages,
                    sla_met=_within(info, info.sla_resolution, start, at),
                )
            )
    return facts
