"""Routing rules: validation, matching, and what applying them does to a conversation."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from conversations.models import Availability, ConversationEvent, EventKind, Handler, Priority
from routing import engine
from routing.assign_services import EVENT_SLA_POLICY, route_conversation
from tests import factories as f

pytestmark = pytest.mark.django_db


def _rule(**kwargs: Any) -> Any:
    rule = f.RoutingRuleFactory.build(**kwargs)
    rule.full_clean()
    rule.save()
    return rule


def _facts(**overrides: Any) -> engine.RoutingFacts:
    base = {
        "channel": "sms",
        "inbox": 1,
        "text": "Hello, I want a refund for my order",
        "topic": "billing",
        "language": "en-GB",
        "location": "Berlin, Germany",
        "segment": "VIP",
        "priority": "normal",
    }
    return engine.RoutingFacts(**{**base, **overrides})


# --- Validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "keywords", "operator": "is", "value": "refund"}, "keywords only works with contains_any"),
        ({"field": "channel", "operator": "in", "value": "sms"}, "non-empty list"),
        ({"field": "topic", "operator": "is", "value": ["billing"]}, "single value"),
        ({"field": "priority", "operator": "is", "value": "critical"}, "unknown priority"),
        ({"field": "channel", "operator": "is", "value": "fax"}, "Unknown channel"),
        ({"field": "inbox", "operator": "is", "value": 999999}, "Unknown inbox"),
        ({"field": "channel", "operator": "contains_any", "value": ["sms"]}, "works with is, is_not and in"),
    ],
)
def test_rule_with_nonsensical_condition_is_refused_on_save(condition: dict[str, Any], message: str) -> None:
    rule = f.RoutingRuleFactory.build(conditions=[condition], actions={"priority": "high"})
    with pytest.raises(ValidationError, match=message):
        rule.full_clean()


def test_rule_pointing_at_missing_team_is_refused() -> None:
    rule = f.RoutingRuleFactory.build(actions={"team": 999999})
    with pytest.raises(ValidationError, match="team 999999 does not exist"):
        rule.full_clean()


# --- Matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "keywords", "operator": "contains_any", "value": ["REFUND", "chargeback"]}, True),
        ({"field": "keywords", "operator": "contains_any", "value": ["fund"]}, False),  # whole words only
        ({"field": "keywords", "operator": "contains_any", "value": ["my order"]}, True),  # phrases
        ({"field": "language", "operator": "is", "value": "en"}, True),  # en matches en-GB
        ({"field": "language", "operator": "is", "value": "en-US"}, False),
        ({"field": "segment", "operator": "is", "value": "vip"}, True),
        ({"field": "location", "operator": "contains_any", "value": ["berlin"]}, True),
        ({"field": "priority", "operator": "in", "value": ["high", "urgent"]}, False),
        ({"field": "channel", "operator": "is_not", "value": "sms"}, False),
        ({"field": "topic", "operator": "in", "value": ["billing", "refunds"]}, True),
    ],
)
def test_condition_matching(condition: dict[str, Any], expected: bool) -> None:
    assert engine.condition_matches(condition, _facts()) is expected


def test_match_all_needs_every_condition_and_any_needs_one() -> None:
    conditions = [
        {"field": "channel", "operator": "is", "value": "whatsapp"},
        {"field": "topic", "operator": "is", "value": "billing"},
    ]
    all_rule = f.RoutingRuleFactory.build(conditions=conditions, match="all")
    any_rule = f.RoutingRuleFactory.build(conditions=conditions, match="any")
    assert not engine.rule_matches(all_rule, _facts())
    assert engine.rule_matches(any_rule, _facts())
    assert engine.rule_matches(all_rule, _facts(channel="whatsapp"))


def test_rules_run_by_position_then_id_and_stop_at_a_stopping_rule(inbox: Any) -> None:
    always = [{"field": "channel", "operator": "is", "value": "webchat"}]
    later = _rule(name="later", position=5, conditions=always, stop_processing=False)
    _rule(name="first", position=1, conditions=always, stop_processing=False)
    stopper = _rule(name="stopper", position=5, conditions=always, stop_processing=True)
    _rule(name="never reached", position=9, conditions=always)
    _rule(name="inactive", position=0, conditions=always, is_active=False)
    assert later.pk < stopper.pk
    facts = _facts(channel="webchat", inbox=inbox.pk)
    assert [r.name for r in engine.matching_rules(facts)] == ["first", "later", "stopper"]


def test_rule_limited_to_an_inbox_ignores_other_inboxes(inbox: Any, sms_inbox: Any) -> None:
    _rule(name="sms only", inbox=sms_inbox, conditions=[], actions={"priority": "high"})
    assert engine.matching_rules(_facts(inbox=inbox.pk)) == []
    assert [r.name for r in engine.matching_rules(_facts(inbox=sms_inbox.pk))] == ["sms only"]


# --- Applying --------------------------------------------------------------------------------


def test_whatsapp_billing_rule_routes_new_billing_question_to_available_billing_agent(team: Any, agent: Any) -> None:
    """The admin check from the issue: channel is WhatsApp and topic is billing -> team Billing."""
    billing = f.TeamFactory(name="Billing")
    away = f.AgentFactory(username="away")
    away.agent_profile.availability = Availability.OFFLINE
    away.agent_profile.save()
    ready = f.AgentFactory(username="ready")
    for user in (away, ready):
        user.agent_profile.teams.add(billing)
    whatsapp = f.InboxFactory(kind="whatsapp", default_team=team, members=[agent, away, ready])
    rule = _rule(
        name="WhatsApp billing",
        conditions=[
            {"field": "channel", "operator": "is", "value": "whatsapp"},
            {"field": "topic", "operator": "is", "value": "billing"},
        ],
        actions={"team": billing.pk},
    )
    conversation = f.ConversationFactory(inbox=whatsapp, team=team, topic="billing", handler=Handler.HUMAN)
    f.MessageFactory(conversation=conversation, body="Why was I charged twice?")

    result = route_conversation(conversation.pk, trigger="handoff")

    conversation.refresh_from_db()
    assert conversation.team == billing
    assert conversation.assignee == ready
    assert result.applied_rule_ids == (rule.pk,)
    applied = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.RULE_APPLIED)
    assert applied.data["rule_id"] == rule.pk
    assert applied.data["rule_name"] == "WhatsApp billing"
    assert applied.data["actions"] == {"team": billing.pk}
    assert applied.data["trigger"] == "handoff"


def test_whatsapp_billing_rule_leaves_other_channels_with_their_team(team: Any, agent: Any, sms_inbox: Any) -> None:
    billing = f.TeamFactory(name="Billing")
    _rule(
        conditions=[
            {"field": "channel", "operator": "is", "value": "whatsapp"},
            {"field": "topic", "operator": "is", "value": "billing"},
        ],
        actions={"team": billing.pk},
    )
    conversation = f.ConversationFactory(inbox=sms_inbox, team=team, topic="billing")
    route_conversation(conversation.pk, trigger="created")
    conversation.refresh_from_db()
    assert conversation.team == team
    assert not ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.RULE_APPLIED).exists()


def test_rule_actions_go_through_the_services_and_are_recorded(inbox: Any, team: Any) -> None:
    policy = f.SLAPolicyFactory(name="VIP SLA")
    contact = f.ContactFactory(segment="vip")
    _rule(
        name="VIPs",
        conditions=[{"field": "segment", "operator": "is", "value": "vip"}],
        actions={"tags": ["vip", "Priority Care"], "priority": "urgent", "sla_policy": policy.pk},
    )
    conversation = f.ConversationFactory(inbox=inbox, team=team, contact=contact, handler=Handler.BOT)

    route_conversation(conversation.pk, trigger="created")

    conversation.refresh_from_db()
    assert conversation.priority == Priority.URGENT
    assert sorted(t.name for t in conversation.tags.all()) == ["priority care", "vip"]
    assert conversation.sla_policy == policy
    kinds = list(ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True))
    assert kinds == [EventKind.TAGGED, EventKind.PRIORITY, EVENT_SLA_POLICY, EventKind.RULE_APPLIED]
    # The assistant still has it: rules prepare, they do not hand off.
    assert conversation.handler == Handler.BOT
    assert conversation.assignee is None


def test_rule_sets_team_of_a_bot_conversation_without_handing_it_off(inbox: Any, team: Any) -> None:
    billing = f.TeamFactory(name="Billing")
    _rule(conditions=[], actions={"team": billing.pk})
    conversation = f.ConversationFactory(inbox=inbox, team=team, handler=Handler.BOT)
    route_conversation(conversation.pk, trigger="created")
    conversation.refresh_from_db()
    assert (conversation.team, conversation.handler, conversation.assignee) == (billing, Handler.BOT, None)
    transfer = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.TRANSFERRED)
    assert transfer.data["to_team"] == billing.pk


def test_rule_agent_is_assigned_when_available(inbox: Any, team: Any, agent: Any, teammate: Any) -> None:
    _rule(conditions=[], actions={"agent": teammate.pk})
    conversation = f.ConversationFactory(inbox=inbox, team=team)
    assert route_conversation(conversation.pk, trigger="handoff").assignee_id == teammate.pk


def test_rule_agent_who_is_offline_leaves_the_choice_to_the_team(
    inbox: Any, team: Any, agent: Any, teammate: Any
) -> None:
    teammate.agent_profile.availability = Availability.OFFLINE
    teammate.agent_profile.save()
    _rule(conditions=[], actions={"agent": teammate.pk})
    conversation = f.ConversationFactory(inbox=inbox, team=team)
    assert route_conversation(conversation.pk, trigger="handoff").assignee_id == agent.pk


def test_rule_whose_team_was_deleted_is_applied_without_it_and_says_so(inbox: Any, team: Any) -> None:
    doomed = f.TeamFactory(name="Doomed")
    rule = _rule(conditions=[], actions={"team": doomed.pk, "priority": "high"})
    doomed.delete()
    conversation = f.ConversationFactory(inbox=inbox, team=team, handler=Handler.BOT)
    route_conversation(conversation.pk, trigger="created")
    conversation.refresh_from_db()
    assert conversation.team == team
    assert conversation.priority == Priority.HIGH
    applied = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.RULE_APPLIED)
    assert applied.data["rule_id"] == rule.pk
    assert applied.data["skipped"] == {"team": "no such team"}


def test_keywords_are_read_from_the_triggering_message(inbox: Any, team: Any) -> None:
    _rule(
        conditions=[{"field": "keywords", "operator": "contains_any", "value": ["cancel"]}],
        actions={"tags": ["cancellation"]},
    )
    conversation = f.ConversationFactory(inbox=inbox, team=team, handler=Handler.BOT)
    first = f.MessageFactory(conversation=conversation, body="Please cancel my plan")
    f.MessageFactory(conversation=conversation, body="Thanks!")
    route_conversation(conversation.pk, trigger="created")  # the last message says nothing of cancelling
    assert not conversation.tags.exists()
    route_conversation(conversation.pk, trigger="created", message_id=first.pk)
    assert [t.name for t in conversation.tags.all()] == ["cancellation"]


def test_closed_conversation_is_not_routed(inbox: Any, team: Any) -> None:
    _rule(conditions=[], actions={"priority": "high"})
    conversation = f.ConversationFactory(inbox=inbox, team=team, status="resolved")
    assert route_conversation(conversation.pk, trigger="handoff").applied_rule_ids == ()
    conversation.refresh_from_db()
    assert conversation.priority == Priority.NORMAL
