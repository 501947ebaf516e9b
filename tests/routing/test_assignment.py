"""Assignment strategies, the team queue, and reassignment of unanswered conversations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from conversations.models import (
    Availability,
    Conversation,
    ConversationEvent,
    EventKind,
    Handler,
    Priority,
    Status,
)
from conversations.services import agent_set_availability, conversation_set_status, message_send_reply
from routing import assign_services
from routing.assign_services import (
    EVENT_REASSIGNED,
    drain_queue,
    on_capacity_freed,
    reassign_unanswered,
    route_conversation,
    sweep_queues,
)
from routing.models import AgentRotation
from tests import factories as f

pytestmark = pytest.mark.django_db


def _agents(team: Any, inbox: Any, n: int, **profile: Any) -> list[Any]:
    users = []
    for i in range(n):
        user = f.AgentFactory(username=f"{team.name.lower()}-agent-{i}")
        for key, value in profile.items():
            setattr(user.agent_profile, key, value)
        user.agent_profile.save()
        user.agent_profile.teams.add(team)
        inbox.members.add(user)
        users.append(user)
    return users


def _setup(strategy: str = "round_robin", n: int = 3, **profile: Any) -> tuple[Any, Any, list[Any]]:
    team = f.TeamFactory(name="Desk", assignment_strategy=strategy)
    inbox = f.InboxFactory(default_team=team)
    return team, inbox, _agents(team, inbox, n, **profile)


def _new(inbox: Any, team: Any, **kwargs: Any) -> Conversation:
    conversation = f.ConversationFactory(inbox=inbox, team=team, handler=Handler.HUMAN, **kwargs)
    return conversation


def _route(conversation: Conversation) -> int | None:
    return route_conversation(conversation.pk, trigger="handoff").assignee_id


def _set(user: Any, **profile: Any) -> None:
    for key, value in profile.items():
        setattr(user.agent_profile, key, value)
    user.agent_profile.save()


# --- Who can be picked -----------------------------------------------------------------------


def test_round_robin_takes_turns_in_order() -> None:
    team, inbox, (a, b, c) = _setup()
    picked = [_route(_new(inbox, team)) for _ in range(6)]
    assert picked == [a.pk, b.pk, c.pk, a.pk, b.pk, c.pk]


def test_round_robin_rotation_is_read_from_the_database() -> None:
    """Another worker (or a restart) continues where the rotation stands, because it is stored."""
    team, inbox, (a, b, c) = _setup()
    now = timezone.now()
    AgentRotation.objects.create(team=team, agent=a, last_assigned_at=now - timedelta(minutes=1))
    AgentRotation.objects.create(team=team, agent=b, last_assigned_at=now - timedelta(minutes=3))
    AgentRotation.objects.create(team=team, agent=c, last_assigned_at=now - timedelta(minutes=2))
    assert [_route(_new(inbox, team)) for _ in range(3)] == [b.pk, c.pk, a.pk]
    assert AgentRotation.objects.get(team=team, agent=b).assigned_count == 1


@pytest.mark.parametrize("availability", [Availability.OFFLINE, Availability.BUSY])
def test_agents_who_are_not_online_are_never_picked(availability: str) -> None:
    team, inbox, (a, b, c) = _setup()
    _set(a, availability=availability)
    _set(c, availability=availability)
    assert {_route(_new(inbox, team)) for _ in range(4)} == {b.pk}


def test_agent_at_capacity_is_skipped_and_pending_conversations_do_not_count() -> None:
    team, inbox, (a, b) = _setup(n=2, capacity=1)
    _new(inbox, team, assignee=a)  # a is full
    _new(inbox, team, assignee=b, status=Status.PENDING)  # waiting for the customer: b is free
    assert _route(_new(inbox, team)) == b.pk
    third = _new(inbox, team)
    assert _route(third) is None
    third.refresh_from_db()
    assert third.assignee is None and third.team == team  # queued


def test_agent_who_is_not_in_the_inbox_is_never_picked() -> None:
    team, inbox, (a, b) = _setup(n=2)
    inbox.members.remove(a)
    assert {_route(_new(inbox, team)) for _ in range(3)} == {b.pk}


def test_capacity_strategy_picks_the_agent_with_fewest_active_conversations() -> None:
    team, inbox, (a, b, c) = _setup("capacity")
    for _ in range(2):
        _new(inbox, team, assignee=a)
        _new(inbox, team, assignee=c)
    _new(inbox, team, assignee=b)
    assert _route(_new(inbox, team)) == b.pk
    # Now all three have two: the rotation breaks the tie.
    assert _route(_new(inbox, team)) in {a.pk, c.pk}


def test_skill_strategy_requires_topic_and_language_and_prefers_matching_tags() -> None:
    team, inbox, (generalist, biller, spanish_biller) = _setup("skill")
    _set(biller, skills=["billing"], languages=["en"])
    _set(spanish_biller, skills=["billing", "refunds"], languages=["es", "en"])
    _set(generalist, skills=["technical"], languages=["en", "es"])
    english = _new(inbox, team, topic="billing", language="en-GB")
    spanish = _new(inbox, team, topic="Billing", language="es")
    tagged = _new(inbox, team, topic="billing", language="en")
    tagged.tags.add(f.TagFactory(name="refunds"))
    assert _route(spanish) == spanish_biller.pk
    assert _route(tagged) == spanish_biller.pk  # the refunds tag matches her skills
    assert _route(english) == biller.pk  # fewest active among billing agents


def test_skill_strategy_waits_for_a_skilled_agent_rather_than_giving_it_to_another() -> None:
    team, inbox, (_generalist, biller) = _setup("skill", n=2)
    _set(biller, skills=["billing"], availability=Availability.OFFLINE)
    conversation = _new(inbox, team, topic="billing")
    assert _route(conversation) is None
    agent_set_availability(agent=biller, availability=Availability.ONLINE, actor=biller)
    assert on_capacity_freed(biller.pk) == 1
    conversation.refresh_from_db()
    assert conversation.assignee == biller


def test_skill_nobody_in_the_team_has_is_not_required() -> None:
    team, inbox, (a, b) = _setup("skill", n=2)
    assert _route(_new(inbox, team, topic="astrology", language="tlh")) in {a.pk, b.pk}


def test_channel_strategy_picks_agents_who_take_the_channel() -> None:
    team = f.TeamFactory(name="Desk", assignment_strategy="channel")
    sms = f.InboxFactory(kind="sms", default_team=team)
    webchat = f.InboxFactory(kind="webchat", default_team=team)
    texter, chatter = _agents(team, sms, 2)
    webchat.members.add(texter, chatter)
    _set(texter, channels=["sms", "whatsapp"])
    _set(chatter, channels=["webchat"])
    assert {_route(_new(sms, team)) for _ in range(3)} == {texter.pk}
    assert {_route(_new(webchat, team)) for _ in range(3)} == {chatter.pk}


def test_inbox_strategy_overrides_the_team_strategy() -> None:
    team, inbox, (_a, _b) = _setup("round_robin", n=2)
    inbox.assignment_strategy = "manual"
    inbox.save()
    assert _route(_new(inbox, team)) is None


def test_manual_strategy_only_queues() -> None:
    team, inbox, _ = _setup("manual")
    conversation = _new(inbox, team)
    result = route_conversation(conversation.pk, trigger="handoff")
    assert (result.assignee_id, result.queued) == (None, True)


def test_conversation_with_the_assistant_or_already_assigned_is_not_assigned() -> None:
    team, inbox, (_a, b) = _setup(n=2)
    bot = f.ConversationFactory(inbox=inbox, team=team, handler=Handler.BOT)
    assert _route(bot) is None
    mine = _new(inbox, team, assignee=b)
    assert _route(mine) is None
    mine.refresh_from_db()
    assert mine.assignee == b


def test_assignment_is_recorded_as_a_system_assigned_event() -> None:
    team, inbox, (a,) = _setup(n=1)
    conversation = _new(inbox, team)
    _route(conversation)
    event = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.ASSIGNED)
    assert (event.actor, event.actor_kind, event.data["to"]) == (None, "system", a.pk)


# --- The queue -------------------------------------------------------------------------------


def test_queue_is_served_highest_priority_first_then_oldest() -> None:
    team, inbox, (a,) = _setup(n=1, capacity=1)
    busy = _new(inbox, team)
    assert _route(busy) == a.pk
    now = timezone.now()
    old_normal = _new(inbox, team, handed_off_at=now - timedelta(hours=2))
    new_urgent = _new(inbox, team, priority=Priority.URGENT, handed_off_at=now - timedelta(minutes=1))
    older_normal = _new(inbox, team, handed_off_at=now - timedelta(hours=3))
    for conversation in (old_normal, new_urgent, older_normal):
        assert _route(conversation) is None

    served = []
    for _ in range(3):
        current = Conversation.objects.get(assignee=a, status=Status.ACTIVE)
        conversation_set_status(conversation=current, status=Status.RESOLVED, actor=a)
        assert on_capacity_freed(a.pk) == 1
        served.append(Conversation.objects.get(assignee=a, status=Status.ACTIVE).pk)
    assert served == [new_urgent.pk, older_normal.pk, old_normal.pk]


def test_more_capacity_drains_the_queue_up_to_the_new_capacity() -> None:
    team, inbox, (a,) = _setup(n=1, capacity=1)
    conversations = [_new(inbox, team) for _ in range(4)]
    for conversation in conversations:
        _route(conversation)
    _set(a, capacity=3)
    assert drain_queue(team.pk) == 2
    assert Conversation.objects.filter(assignee=a, status=Status.ACTIVE).count() == 3
    assert drain_queue(team.pk) == 0


def test_drain_passes_over_a_conversation_nobody_available_can_take() -> None:
    team, inbox, (generalist, biller) = _setup("skill", n=2, capacity=1)
    _set(biller, skills=["billing"], availability=Availability.OFFLINE)
    now = timezone.now()
    billing = _new(inbox, team, topic="billing", handed_off_at=now - timedelta(hours=1))
    general = _new(inbox, team, handed_off_at=now)
    assert drain_queue(team.pk) == 1
    billing.refresh_from_db()
    general.refresh_from_db()
    assert billing.assignee is None
    assert general.assignee == generalist


def test_sweep_assigns_queued_conversations_of_every_team() -> None:
    team, inbox, (a,) = _setup(n=1)
    other_team = f.TeamFactory(name="Other")
    (b,) = _agents(other_team, inbox, 1)
    first, second = _new(inbox, team), _new(inbox, other_team)  # never routed: a missed hook
    assert sweep_queues() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.assignee, second.assignee) == (a, b)


def test_agent_replying_to_a_queued_conversation_takes_it_out_of_the_queue() -> None:
    team, inbox, (a,) = _setup(n=1, capacity=0)
    conversation = _new(inbox, team)
    assert _route(conversation) is None
    message_send_reply(conversation=conversation, author=a, body="On it")
    _set(a, capacity=5)
    assert drain_queue(team.pk) == 0


def test_route_on_commit_routes_only_after_the_transaction_commits(committed: Any) -> None:
    team, inbox, (a,) = _setup(n=1)
    conversation = _new(inbox, team)
    with committed():
        assign_services.route_on_commit(conversation.pk, trigger="created")
        conversation.refresh_from_db()
        assert conversation.assignee is None
    conversation.refresh_from_db()
    assert conversation.assignee == a


def test_capacity_freed_on_commit_drains_the_agents_teams(committed: Any) -> None:
    team, inbox, (a,) = _setup(n=1, capacity=0)
    conversation = _new(inbox, team)
    _set(a, capacity=1)
    with committed():
        assign_services.capacity_freed_on_commit(a.pk)
    conversation.refresh_from_db()
    assert conversation.assignee == a


# --- Reassignment ----------------------------------------------------------------------------


def _unanswered_setup(minutes: int | None = 15) -> tuple[Any, Any, Any, Any, Conversation]:
    team, inbox, (a, b) = _setup(n=2)
    team.reassign_after_minutes = minutes
    team.save()
    conversation = _new(inbox, team, waiting_since=timezone.now())
    assert _route(conversation) == a.pk
    return team, inbox, a, b, conversation


def test_unanswered_conversation_goes_to_another_agent_after_the_team_limit() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _, _, a, b, conversation = _unanswered_setup(15)
        clock.shift(timedelta(minutes=14))
        assert reassign_unanswered() == 0
        clock.shift(timedelta(minutes=2))
        assert reassign_unanswered() == 1
    conversation.refresh_from_db()
    assert conversation.assignee == b
    reassigned = ConversationEvent.objects.get(conversation=conversation, kind=EVENT_REASSIGNED)
    assert reassigned.data["from"] == a.pk
    assert reassigned.data["after_minutes"] == 15
    kinds = list(ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True))
    assert kinds == [EventKind.ASSIGNED, EventKind.UNASSIGNED, EVENT_REASSIGNED, EventKind.ASSIGNED]


def test_the_new_assignee_gets_the_full_time_again() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _, _, a, _b, conversation = _unanswered_setup(15)
        clock.shift(timedelta(minutes=16))
        reassign_unanswered()
        clock.shift(timedelta(minutes=10))
        assert reassign_unanswered() == 0
        clock.shift(timedelta(minutes=6))
        assert reassign_unanswered() == 1
    conversation.refresh_from_db()
    assert conversation.assignee == a


def test_answered_conversation_is_not_reassigned() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _, _, a, _, conversation = _unanswered_setup(15)
        message_send_reply(conversation=conversation, author=a, body="Hello!")
        clock.shift(timedelta(hours=2))
        assert reassign_unanswered() == 0
    conversation.refresh_from_db()
    assert conversation.assignee == a


def test_team_without_a_limit_never_reassigns() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _, _, _a, _, _conversation = _unanswered_setup(None)
        clock.shift(timedelta(days=1))
        assert reassign_unanswered() == 0


def test_reassignment_with_nobody_else_free_queues_it_and_the_first_agent_may_get_it_back_later() -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        team, _, a, b, conversation = _unanswered_setup(15)
        _set(b, availability=Availability.OFFLINE)
        clock.shift(timedelta(minutes=16))
        assert reassign_unanswered() == 1
        conversation.refresh_from_db()
        assert conversation.assignee is None  # excluded once: not straight back to a
        assert drain_queue(team.pk) == 1
    conversation.refresh_from_db()
    assert conversation.assignee == a


def test_routing_tasks_run_the_services() -> None:
    from routing import routing_tasks

    team, inbox, (a,) = _setup(n=1, capacity=0)
    conversation = _new(inbox, team)
    routing_tasks.route_conversation_task.delay(conversation.pk, "handoff")
    conversation.refresh_from_db()
    assert conversation.assignee is None
    _set(a, capacity=1)
    routing_tasks.sweep_routing_queues.delay()
    conversation.refresh_from_db()
    assert conversation.assignee == a
    assert routing_tasks.reassign_unanswered_conversations.delay().get() == 0


@pytest.mark.parametrize(
    ("strategy", "read", "unread"),
    [
        ("round_robin", set(), {"skills", "languages", "channels", "notification_preferences"}),
        ("skill", {"skills", "languages"}, {"channels", "notification_preferences"}),
        ("channel", {"channels"}, {"skills", "languages", "notification_preferences"}),
    ],
)
def test_choosing_an_agent_reads_only_the_strategys_own_columns_and_a_fixed_number_of_queries(
    strategy: str, read: set[str], unread: set[str]
) -> None:
    """A big team's profiles are read once, without the JSON nobody looks at, and never one by one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations.models import AgentProfile
    from routing.assignment import claim_agent

    team, inbox, agents = _setup(strategy, n=12, availability=Availability.ONLINE, channels=["sms", "email"])
    conversation = _new(inbox, team, topic="billing", language="en")
    conversation = Conversation.objects.select_related("inbox", "team", "contact").get(pk=conversation.pk)
    table = AgentProfile._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        chosen = claim_agent(conversation)
    assert chosen in {agent.pk for agent in agents}
    assert len(queries) <= 6, [q["sql"] for q in queries]
    profile_reads = [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"]]
    assert profile_reads
    for sql in profile_reads:
        for column in unread:
            assert f'"{table}"."{column}"' not in sql
    assert all(any(f'"{table}"."{column}"' in sql for sql in profile_reads) for column in read)


@pytest.mark.parametrize(("strategy", "built"), [("round_robin", 12), ("capacity", 12), ("skill", 24)])
def test_choosing_an_agent_builds_each_members_profile_once_unless_requirements_need_the_team(
    strategy: str, built: int
) -> None:
    """Round robin and capacity read the team's membership as ids; skills check what the whole team can do."""
    from django.db.models.signals import post_init

    from conversations.models import AgentProfile
    from routing.assignment import claim_agent

    team, inbox, agents = _setup(strategy, n=12, availability=Availability.ONLINE)
    conversation = _new(inbox, team, topic="billing", language="en")
    conversation = Conversation.objects.select_related("inbox", "team", "contact").get(pk=conversation.pk)
    made: list[int] = []

    def count(sender: Any, **kwargs: Any) -> None:
        made.append(1)

    post_init.connect(count, sender=AgentProfile)
    try:
        chosen = claim_agent(conversation)
    finally:
        post_init.disconnect(count, sender=AgentProfile)
    assert chosen in {agent.pk for agent in agents}
    assert len(made) == built
