"""Concurrent routing on the real PostgreSQL: never above capacity, never one conversation assigned twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from conversations.models import Conversation, ConversationEvent, EventKind, Handler, Status
from routing.assign_services import drain_queue, on_capacity_freed, route_conversation
from tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call on its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=30)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _team(strategy: str, agents: int, capacity: int) -> tuple[Any, Any, list[Any]]:
    team = f.TeamFactory(name="Rush", assignment_strategy=strategy)
    inbox = f.InboxFactory(default_team=team)
    users = []
    for i in range(agents):
        user = f.AgentFactory(username=f"rush-{i}")
        user.agent_profile.capacity = capacity
        user.agent_profile.save()
        user.agent_profile.teams.add(team)
        inbox.members.add(user)
        users.append(user)
    return team, inbox, users


def _loads(users: list[Any]) -> dict[int, int]:
    counts = Counter(
        Conversation.objects.filter(assignee__in=users, status=Status.ACTIVE).values_list("assignee_id", flat=True)
    )
    return {user.pk: counts.get(user.pk, 0) for user in users}


@pytest.mark.parametrize("strategy", ["round_robin", "capacity", "skill"])
def test_concurrent_handoffs_fill_capacity_exactly_and_queue_the_rest(strategy: str) -> None:
    team, inbox, users = _team(strategy, agents=3, capacity=2)
    conversations = [f.ConversationFactory(inbox=inbox, team=team, handler=Handler.HUMAN) for _ in range(20)]

    results = _in_threads([lambda pk=c.pk: route_conversation(pk, trigger="handoff") for c in conversations])

    assert sum(1 for r in results if r.assignee_id is not None) == 6
    assert sum(1 for r in results if r.queued) == 14
    assert _loads(users) == {user.pk: 2 for user in users}
    assigned_events = ConversationEvent.objects.filter(conversation__in=conversations, kind=EventKind.ASSIGNED)
    assert assigned_events.count() == 6


def test_one_conversation_routed_by_many_workers_is_assigned_once() -> None:
    team, inbox, _users = _team("round_robin", agents=3, capacity=5)
    conversation = f.ConversationFactory(inbox=inbox, team=team, handler=Handler.HUMAN)

    results = _in_threads([lambda: route_conversation(conversation.pk, trigger="handoff") for _ in range(10)])

    assert len({r.assignee_id for r in results if r.assignee_id is not None}) == 1
    assert ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.ASSIGNED).count() == 1


def test_concurrent_drains_and_new_handoffs_never_exceed_capacity() -> None:
    team, inbox, users = _team("capacity", agents=3, capacity=2)
    queued = [f.ConversationFactory(inbox=inbox, team=team, handler=Handler.HUMAN) for _ in range(10)]
    fresh = [f.ConversationFactory(inbox=inbox, team=team, handler=Handler.HUMAN) for _ in range(10)]

    calls: list[Callable[[], Any]] = [lambda: drain_queue(team.pk) for _ in range(4)]
    calls += [lambda: on_capacity_freed(users[0].pk) for _ in range(2)]
    calls += [lambda pk=c.pk: route_conversation(pk, trigger="handoff") for c in fresh]
    _in_threads(calls)

    assert _loads(users) == {user.pk: 2 for user in users}
    all_ids = [c.pk for c in queued + fresh]
    assigned = ConversationEvent.objects.filter(conversation_id__in=all_ids, kind=EventKind.ASSIGNED)
    assert assigned.count() == 6
    assert len(set(assigned.values_list("conversation_id", flat=True))) == 6
