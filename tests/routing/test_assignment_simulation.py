"""A day at the desk, simulated: 1,000 conversations, 10 agents, resolutions and availability changes.

Deterministic (fixed seed). After every routing step no agent is above capacity; at the end every
specialist conversation went to an agent with its skill, and round-robin spread the general team's
work evenly: among always-online agents of equal capacity, max - min assignments <= 10% of the mean.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from django.db.models import Count, F
from django.utils import timezone

from conversations.models import (
    AgentProfile,
    Availability,
    Conversation,
    ConversationEvent,
    EventKind,
    Handler,
    Status,
)
from conversations.services import agent_set_availability, conversation_set_status
from routing.assign_services import on_capacity_freed, route_conversation, sweep_queues
from tests import factories as f

# About 45k queries: a couple of minutes on this machine, so it runs with the slow tests.
pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SEED = 20261121
STEPS = int(__import__("os").environ.get("SIM_STEPS", "100"))
ARRIVALS_PER_STEP = 10
TOPICS = ("billing", "technical", "refunds")
# username: (skills, capacity)
SPECIALISTS = {
    "billing-1": (["billing"], 2),
    "billing-2": (["billing", "refunds"], 3),
    "tech-1": (["technical"], 4),
    "tech-2": (["technical"], 2),
    "refunds-1": (["refunds"], 3),
}


def _over_capacity() -> list[dict[str, Any]]:
    """Agents with more active conversations than their capacity (one query: it runs after every step)."""
    return list(
        Conversation.objects.filter(status=Status.ACTIVE, assignee__isnull=False)
        .values("assignee_id", "assignee__agent_profile__capacity")
        .annotate(n=Count("id"))
        .filter(n__gt=F("assignee__agent_profile__capacity"))
        .order_by()
    )


def test_thousand_conversations_respect_capacity_and_skills_and_spread_evenly() -> None:
    rng = random.Random(SEED)
    general = f.TeamFactory(name="General", assignment_strategy="round_robin")
    specialists = f.TeamFactory(name="Specialists", assignment_strategy="skill")
    inbox = f.InboxFactory(default_team=general)
    contact = f.ContactFactory()

    general_agents = []
    for i in range(5):
        user = f.AgentFactory(username=f"general-{i}")
        user.agent_profile.capacity = 6
        user.agent_profile.save()
        user.agent_profile.teams.add(general)
        general_agents.append(user)
    specialist_agents = []
    for username, (skills, capacity) in SPECIALISTS.items():
        user = f.AgentFactory(username=username)
        user.agent_profile.skills = skills
        user.agent_profile.capacity = capacity
        user.agent_profile.save()
        user.agent_profile.teams.add(specialists)
        specialist_agents.append(user)
    inbox.members.add(*general_agents, *specialist_agents)

    routed = 0
    for step in range(STEPS):
        now = timezone.now()
        batch = Conversation.objects.bulk_create(
            Conversation(
                inbox=inbox,
                contact=contact,
                team=general if rng.random() < 0.5 else specialists,
                topic=rng.choice(TOPICS),
                handler=Handler.HUMAN,
                status=Status.ACTIVE,
                handed_off_at=now,
            )
            for _ in range(ARRIVALS_PER_STEP)
        )
        for conversation in batch:
            route_conversation(conversation.pk, trigger="handoff")
            routed += 1
            assert _over_capacity() == [], f"over capacity after routing #{routed}"

        # Agents resolve some of their active conversations; each freed slot drains the queue.
        active = list(
            Conversation.objects.filter(status=Status.ACTIVE, assignee__isnull=False)
            .order_by("pk")
            .values_list("pk", "assignee_id")
        )
        for pk, assignee_id in rng.sample(active, k=min(len(active), rng.randint(8, 13))):
            conversation_set_status(conversation=Conversation(pk=pk), status=Status.RESOLVED, actor=None)
            on_capacity_freed(assignee_id)
            assert _over_capacity() == [], f"over capacity after a resolution in step {step}"

        # Now and then a specialist goes offline or comes back.
        if step % 7 == 3:
            chosen: Any = rng.choice(specialist_agents)
            profile = AgentProfile.objects.get(user=chosen)
            online = profile.availability == Availability.ONLINE
            agent_set_availability(
                agent=chosen, availability=Availability.OFFLINE if online else Availability.ONLINE, actor=chosen
            )
            if not online:
                on_capacity_freed(chosen.pk)
            assert _over_capacity() == []

    sweep_queues()
    assert _over_capacity() == []
    assert routed == STEPS * ARRIVALS_PER_STEP

    # Skills: every specialist conversation went to someone with its topic among her skills.
    skills_of = {agent.pk: set(SPECIALISTS[str(agent.username)][0]) for agent in specialist_agents}
    specialist_assignments = ConversationEvent.objects.filter(
        kind=EventKind.ASSIGNED, conversation__team=specialists
    ).values_list("conversation__topic", "data__to")
    assert specialist_assignments
    assert all(topic in skills_of[agent_id] for topic, agent_id in specialist_assignments)

    # Round-robin: the general team's assignments are spread evenly.
    per_agent = Counter(
        ConversationEvent.objects.filter(kind=EventKind.ASSIGNED, conversation__team=general).values_list(
            "data__to", flat=True
        )
    )
    counts = [per_agent[user.pk] for user in general_agents]
    mean = sum(counts) / len(counts)
    assert mean > 50
    assert max(counts) - min(counts) <= 0.10 * mean, counts
