"""Routing runs by itself where the product needs it: a new conversation, a handoff, freed capacity."""

from __future__ import annotations

from typing import Any

import pytest

from conversations import services
from conversations.models import EventKind, Handler, Status
from routing.models import RoutingRule
from tests import factories as f
from tests.routing.assistant_helpers import customer_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(db: Any) -> dict[str, Any]:
    team = f.TeamFactory(name="Desk", assignment_strategy="round_robin")
    inbox = f.InboxFactory(kind="sms", default_team=team, assistant_enabled=False)
    agent = f.AgentFactory(username="dora")
    agent.agent_profile.teams.add(team)
    agent.agent_profile.capacity = 1
    agent.agent_profile.save()
    inbox.members.add(agent)
    return {"team": team, "inbox": inbox, "agent": agent}


def test_a_new_conversation_for_people_is_routed_after_commit(desk, committed):
    with committed():
        message = services.message_receive_inbound(
            inbox=desk["inbox"], identity_kind="phone", identity_value="+14155550111", body="My card reader is dead"
        ).message
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.handler == Handler.HUMAN
    assert conversation.assignee == desk["agent"]


def test_a_matching_rule_is_applied_to_a_new_conversation(desk, committed):
    RoutingRule.objects.create(
        name="urgent words",
        conditions=[{"field": "keywords", "operator": "contains_any", "value": ["outage"]}],
        actions={"priority": "urgent", "tags": ["outage"]},
    )
    with committed():
        message = services.message_receive_inbound(
            inbox=desk["inbox"], identity_kind="phone", identity_value="+14155550112", body="Total outage here"
        ).message
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.priority_name == "urgent"
    assert [t.name for t in conversation.tags.all()] == ["outage"]
    assert conversation.events.filter(kind=EventKind.RULE_APPLIED).count() == 1


def test_resolving_frees_capacity_for_the_next_in_the_queue(desk, committed):
    with committed():
        first = services.message_receive_inbound(
            inbox=desk["inbox"], identity_kind="phone", identity_value="+14155550113", body="one"
        ).message.conversation
        second = services.message_receive_inbound(
            inbox=desk["inbox"], identity_kind="phone", identity_value="+14155550114", body="two"
        ).message.conversation
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.assignee == desk["agent"] and second.assignee is None  # capacity 1: the second waits
    with committed():
        services.conversation_set_status(conversation=first, status=Status.RESOLVED, actor=desk["agent"])
    second.refresh_from_db()
    assert second.assignee == desk["agent"]


def test_coming_online_takes_the_waiting_conversation(desk, committed):
    services.agent_set_availability(agent=desk["agent"], availability="offline", actor=desk["agent"])
    with committed():
        waiting = services.message_receive_inbound(
            inbox=desk["inbox"], identity_kind="phone", identity_value="+14155550115", body="hello?"
        ).message.conversation
    waiting.refresh_from_db()
    assert waiting.assignee is None
    with committed():
        services.agent_set_availability(agent=desk["agent"], availability="online", actor=desk["agent"])
    waiting.refresh_from_db()
    assert waiting.assignee == desk["agent"]


def test_an_assistant_handoff_is_routed_to_a_person(desk, settings, committed):
    settings.ASSISTANT_AUTORUN = True
    inbox = desk["inbox"]
    inbox.assistant_enabled = True
    inbox.save()
    with committed():
        message = customer_writes(inbox, "I want to talk to a real person please")
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.handler == Handler.HUMAN
    assert conversation.assignee == desk["agent"]


def test_more_capacity_takes_the_waiting_conversation(desk, supervisor, committed):
    with committed():
        for phone in ("+14155550116", "+14155550117"):
            services.message_receive_inbound(
                inbox=desk["inbox"], identity_kind="phone", identity_value=phone, body="hi"
            )
    waiting = desk["inbox"].conversations.filter(assignee__isnull=True).get()
    with committed():
        services.agent_update_profile(agent=desk["agent"], changes={"capacity": 2}, teams=None, actor=supervisor)
    waiting.refresh_from_db()
    assert waiting.assignee == desk["agent"]


def test_only_a_supervisor_changes_an_agent_profile(desk):
    with pytest.raises(services.ServiceError, match="Only supervisors"):
        services.agent_update_profile(agent=desk["agent"], changes={"capacity": 9}, teams=None, actor=desk["agent"])


def test_a_whatsapp_billing_question_reaches_an_available_billing_agent(settings, committed):
    """The issue's back-office check, through the whole path: message, assistant triage and handoff, rule, strategy."""
    settings.ASSISTANT_AUTORUN = True
    support = f.TeamFactory(name="Support")
    billing = f.TeamFactory(name="Billing", assignment_strategy="round_robin")
    inbox = f.InboxFactory(kind="whatsapp", default_team=support, assistant_enabled=True)
    offline, online = f.AgentFactory(username="bill-off"), f.AgentFactory(username="bill-on")
    for user in (offline, online):
        user.agent_profile.teams.add(billing)
        inbox.members.add(user)
    services.agent_set_availability(agent=offline, availability="offline", actor=offline)
    RoutingRule.objects.create(
        name="WhatsApp billing to Billing",
        conditions=[
            {"field": "channel", "operator": "is", "value": "whatsapp"},
            {"field": "topic", "operator": "is", "value": "billing"},
        ],
        actions={"team": billing.pk},
    )
    with committed():
        message = services.message_receive_inbound(
            inbox=inbox,
            identity_kind="whatsapp",
            identity_value="whatsapp:+14155550190",
            body="Hi, I was charged twice for my subscription this month, I need a person to fix my invoice",
        ).message
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.topic == "billing"
    assert conversation.handler == Handler.HUMAN
    assert conversation.team == billing
    assert conversation.assignee == online
