"""The assistant's turn with the built-in local responder: replies, handoff triggers, triage, drafts."""

from __future__ import annotations

from typing import Any

import pytest

from conversations import services
from conversations.models import EventKind, Handler, Priority, SenderKind
from routing import services as assistant
from routing.assistant import hooks
from routing.assistant.local import FALLBACK_REPLY
from tests import factories as f
from tests.routing.assistant_helpers import (
    assistant_turn,
    customer_visible_outbound,
    customer_writes,
    make_articles,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_responder(settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""


@pytest.fixture
def kb(db: Any) -> list[Any]:
    return make_articles()


@pytest.fixture
def handoffs() -> Any:
    heard: list[int] = []
    hooks.handoff_listener(heard.append)
    yield heard
    hooks.remove_handoff_listener(heard.append)


def events(conversation: Any, kind: str) -> list[Any]:
    return list(conversation.events.filter(kind=kind).order_by("pk"))


def test_answers_from_the_best_article_with_its_confidence(inbox, kb, live_events, committed):
    message = customer_writes(inbox, "I forgot my password, how do I reset it?")
    with committed():
        assert assistant_turn(message) == "reply"
    conversation = message.conversation
    (reply,) = customer_visible_outbound(conversation)
    assert reply.sender_kind == SenderKind.ASSISTANT
    assert reply.delivery_status == "delivered"  # sent through the webchat channel after commit
    assert reply.channel_message_id == f"assistant:{message.pk}"
    assert "reset link" in reply.body
    assert reply.confidence is not None and reply.confidence >= inbox.confidence_threshold
    assert reply.metadata["articles"] == [kb[0].pk]
    out = events(conversation, EventKind.MESSAGE_OUT)
    assert out[-1].actor_kind == SenderKind.ASSISTANT and out[-1].message_id == reply.pk
    assert any(e["message"]["id"] == reply.pk for e in live_events.of_type("message.created"))


def test_running_twice_for_one_message_answers_once(inbox, kb):
    message = customer_writes(inbox, "How do I reset my password?")
    assert assistant_turn(message) == "reply"
    assert assistant_turn(message) == "skipped:claimed"
    assert len(customer_visible_outbound(message.conversation)) == 1


def test_a_second_reply_to_the_same_message_is_impossible(inbox, kb):
    message = customer_writes(inbox, "How do I reset my password?")
    first = assistant.assistant_reply(
        conversation=message.conversation, for_message=message, body="One", confidence=0.9
    )
    second = assistant.assistant_reply(
        conversation=message.conversation, for_message=message, body="Two", confidence=0.9
    )
    assert first is not None and second is None
    assert [m.body for m in customer_visible_outbound(message.conversation)] == ["One"]


def test_unknown_question_gets_the_fallback_with_low_confidence(inbox, kb):
    message = customer_writes(inbox, "Do you sponsor kayak races in Norway?")
    assert assistant_turn(message) == "reply"
    (reply,) = customer_visible_outbound(message.conversation)
    assert reply.body == FALLBACK_REPLY
    assert reply.confidence < inbox.confidence_threshold
    message.conversation.refresh_from_db()
    assert message.conversation.assistant_state["fallbacks"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a real person",
        "human please",
        "AGENT",
        "representative!!",
        "I want to speak to someone",
        "this bot is useless",
        "quiero hablar con una persona",
        "je voudrais parler à un conseiller",
    ],
)
def test_customer_asking_for_a_person_is_handed_off(inbox, kb, text, handoffs):
    message = customer_writes(inbox, text)
    assert assistant_turn(message) == "handoff:customer_asked"
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.handler == Handler.HUMAN
    (handoff,) = events(conversation, EventKind.HANDOFF)
    assert handoff.data["reason"] == "customer_asked"
    assert handoff.actor_kind == SenderKind.ASSISTANT
    (notice,) = customer_visible_outbound(conversation)
    assert "member of our team" in notice.body
    assert conversation.summary
    assert handoffs == []  # the hook runs after commit, and this test's transaction never commits


def test_handoff_hook_runs_after_commit(inbox, kb, handoffs, committed):
    message = customer_writes(inbox, "get me a human")
    with committed():
        assistant_turn(message)
    assert handoffs == [message.conversation_id]


def test_handoff_summary_is_extracted_from_the_customer_messages(inbox, kb):
    first = customer_writes(inbox, "My receipt printer stopped printing this morning. It shows a red light.")
    assistant_turn(first)
    second = customer_writes(inbox, "Still nothing. Let me talk to a person.")
    assistant_turn(second)
    conversation = second.conversation
    conversation.refresh_from_db()
    assert "receipt printer stopped printing" in conversation.summary
    assert "handoff: customer_asked" in conversation.summary


def test_two_low_confidence_answers_in_a_row_hand_off(inbox, kb):
    first = customer_writes(inbox, "Do you sponsor kayak races?")
    assert assistant_turn(first) == "reply"
    second = customer_writes(inbox, "What about sailing regattas then?")
    assert assistant_turn(second) == "handoff:repeated_fallback"
    conversation = second.conversation
    conversation.refresh_from_db()
    assert conversation.handler == Handler.HUMAN
    assert events(conversation, EventKind.HANDOFF)[0].data["reason"] == "repeated_fallback"


def test_a_good_answer_resets_the_fallback_count(inbox, kb):
    assistant_turn(customer_writes(inbox, "Do you sponsor kayak races?"))
    assistant_turn(customer_writes(inbox, "ok then how do I reset my password"))
    third = customer_writes(inbox, "and do you sponsor regattas?")
    assert assistant_turn(third) == "reply"
    third.conversation.refresh_from_db()
    assert third.conversation.assistant_state["fallbacks"] == 1


def test_fallback_threshold_is_configurable_per_inbox(inbox, kb):
    inbox.fallback_handoff_after = 1
    inbox.save()
    message = customer_writes(inbox, "Do you sponsor kayak races?")
    assert assistant_turn(message) == "handoff:repeated_fallback"


@pytest.mark.parametrize("text", ["This is URGENT", "I want a refund", "please cancel my subscription"])
def test_default_keywords_hand_off(inbox, kb, text):
    message = customer_writes(inbox, text)
    assert assistant_turn(message) == "handoff:keyword"
    (handoff,) = events(message.conversation, EventKind.HANDOFF)
    assert handoff.data["reason"] == "keyword"


def test_inbox_keywords_replace_the_defaults(inbox, kb):
    inbox.handoff_keywords = ["chargeback"]
    inbox.save()
    assert assistant_turn(customer_writes(inbox, "I got a chargeback notice", who="a@example.com")) == (
        "handoff:keyword"
    )
    assert assistant_turn(customer_writes(inbox, "how do I reset my password, refund aside", who="b@example.com")) == (
        "reply"
    )


def test_intake_questions_are_asked_one_by_one_then_handed_off(inbox, kb):
    inbox.intake_questions = ["What is your order number?", "What is the best phone number to reach you?"]
    inbox.save()
    first = customer_writes(inbox, "My reader arrived broken")
    assert assistant_turn(first) == "intake_question"
    second = customer_writes(inbox, "Order 55123")
    assert assistant_turn(second) == "intake_question"
    third = customer_writes(inbox, "+1 415 555 0199")
    assert assistant_turn(third) == "handoff:intake_complete"
    conversation = third.conversation
    conversation.refresh_from_db()
    bodies = [m.body for m in customer_visible_outbound(conversation)]
    assert bodies[:2] == inbox.intake_questions
    assert "member of our team" in bodies[2]
    assert conversation.assistant_state["intake"]["answers"] == ["Order 55123", "+1 415 555 0199"]
    assert "What is your order number? Order 55123" in conversation.summary
    assert conversation.handler == Handler.HUMAN


def test_assistant_stops_once_an_agent_takes_over(inbox, kb, agent):
    first = customer_writes(inbox, "How do I reset my password?")
    assistant_turn(first)
    services.conversation_take_over(conversation=first.conversation, agent=agent)
    second = customer_writes(inbox, "How do I reset my password, again?")
    assert assistant_turn(second) == "skipped:human"
    assistant_bodies = [m for m in customer_visible_outbound(first.conversation) if m.sender_kind == "assistant"]
    assert len(assistant_bodies) == 1


def test_assistant_stays_silent_when_a_rule_assigned_the_conversation(inbox, kb, agent):
    first = customer_writes(inbox, "hello")
    # What a routing rule does: assign through the service, which hands off to a human.
    services.conversation_assign(conversation=first.conversation, assignee=agent, actor=None)
    second = customer_writes(inbox, "How do I reset my password?")
    assert assistant_turn(second) == "skipped:human"
    assert customer_visible_outbound(second.conversation) == []


def test_agent_taking_over_during_the_backend_call_wins(inbox, kb, agent):
    message = customer_writes(inbox, "How do I reset my password?")

    class SlowBackend:
        name = "slow"

        def answer(self, context: Any) -> Any:
            services.conversation_take_over(conversation=message.conversation, agent=agent)
            from routing.assistant.local import LocalResponder

            return LocalResponder().answer(context)

    assert assistant.assistant_process_message(message=message, backend=SlowBackend()) == "skipped:answered"
    assert [m.sender_kind for m in customer_visible_outbound(message.conversation)] == ["system"]


def test_automated_email_is_never_answered(kb, agent):
    email_inbox = f.InboxFactory(kind="email", members=[agent])
    message = customer_writes(email_inbox, "I am out of the office until Monday.", metadata={"automated": "auto-reply"})
    assert assistant_turn(message) == "skipped:automated"
    assert customer_visible_outbound(message.conversation) == []


def test_disabled_assistant_does_nothing(inbox, kb):
    inbox.assistant_enabled = False
    inbox.save()
    message = customer_writes(inbox, "How do I reset my password?")
    assert assistant_turn(message) == "skipped:disabled"


# --- Triage -----------------------------------------------------------------------------------


def test_topic_is_set_tagged_and_recorded(inbox, kb):
    message = customer_writes(inbox, "When will my payout arrive in my bank account?")
    assistant_turn(message)
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.topic == "billing"
    assert list(conversation.tags.values_list("name", flat=True)) == ["billing"]
    (topic,) = events(conversation, EventKind.TOPIC)
    assert topic.data == {"from": "", "to": "billing"}


def test_urgent_words_raise_the_priority_automatically(inbox, kb):
    message = customer_writes(inbox, "card reader stopped working, we cant take payments right now!")
    assistant_turn(message)
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.priority == Priority.URGENT
    (change,) = events(conversation, EventKind.PRIORITY)
    assert change.actor_id is None and "urgency" in change.data["reason"]


def test_vip_contact_gets_a_higher_priority(inbox, kb):
    message = customer_writes(inbox, "How do I reset my password?", who="vip@example.com")
    message.conversation.contact.segment = "vip"
    message.conversation.contact.save()
    other = customer_writes(inbox, "How do I reset my password?", who="vip@example.com")
    assistant_turn(other)
    other.conversation.refresh_from_db()
    assert other.conversation.priority == Priority.HIGH


def test_angry_customer_gets_a_higher_priority(inbox, kb):
    message = customer_writes(inbox, "This is ridiculous and unacceptable, my payout is missing")
    assistant_turn(message)
    message.conversation.refresh_from_db()
    assert message.conversation.priority == Priority.HIGH


def test_triage_never_overrides_a_priority_an_agent_set(inbox, kb, agent):
    first = customer_writes(inbox, "hello")
    services.conversation_set_priority(
        conversation=first.conversation, priority="low", actor=agent, reason="known test account"
    )
    second = customer_writes(inbox, "urgent!!! payout missing, this is unacceptable")
    assistant_turn(second)
    second.conversation.refresh_from_db()
    assert second.conversation.priority == Priority.LOW


def test_triage_never_lowers_the_priority(inbox, kb):
    first = customer_writes(inbox, "urgent: cant take payments right now")
    assistant_turn(first)
    second = customer_writes(inbox, "how much is the Growth plan?")
    second.conversation.refresh_from_db()
    assistant_turn(second)
    second.conversation.refresh_from_db()
    assert second.conversation.priority == Priority.URGENT


# --- Draft mode -------------------------------------------------------------------------------


@pytest.fixture
def draft_inbox(agent: Any, team: Any) -> Any:
    return f.InboxFactory(kind="email", members=[agent], default_team=team, assistant_mode="draft")


def test_draft_mode_drafts_and_sends_nothing(draft_inbox, kb):
    message = customer_writes(draft_inbox, "How do I reset my password?")
    assert assistant_turn(message) == "draft"
    (draft,) = message.conversation.messages.filter(direction="out")
    assert draft.is_private_note and draft.delivery_status == ""
    assert draft.metadata["assistant_draft"] == "pending"
    assert draft.sender_kind == SenderKind.ASSISTANT and draft.confidence is not None
    assert customer_visible_outbound(message.conversation) == []


def test_agent_sends_an_edited_draft_as_her_reply(draft_inbox, kb, agent):
    message = customer_writes(draft_inbox, "How do I reset my password?")
    assistant_turn(message)
    draft = message.conversation.messages.get(direction="out")
    reply = assistant.assistant_draft_send(draft=draft, agent=agent, body="Hi Carol, use Forgot password.")
    assert reply.body == "Hi Carol, use Forgot password." and reply.sender_user == agent
    assert reply.delivery_status == "queued" and not reply.is_private_note
    draft.refresh_from_db()
    assert draft.metadata["assistant_draft"] == "sent" and draft.metadata["edited"] is True
    with pytest.raises(services.ServiceError):
        assistant.assistant_draft_send(draft=draft, agent=agent)


def test_agent_discards_a_draft(draft_inbox, kb, agent):
    message = customer_writes(draft_inbox, "How do I reset my password?")
    assistant_turn(message)
    draft = message.conversation.messages.get(direction="out")
    assistant.assistant_draft_discard(draft=draft, actor=agent)
    draft.refresh_from_db()
    assert draft.metadata["assistant_draft"] == "discarded"
    assert customer_visible_outbound(message.conversation) == []
    with pytest.raises(services.ServiceError):
        assistant.assistant_draft_send(draft=draft, agent=agent)


def test_draft_mode_handoff_does_not_write_to_the_customer(draft_inbox, kb):
    message = customer_writes(draft_inbox, "I need a refund")
    assert assistant_turn(message) == "handoff:keyword"
    assert customer_visible_outbound(message.conversation) == []
    message.conversation.refresh_from_db()
    assert message.conversation.handler == Handler.HUMAN


# --- Resolution -------------------------------------------------------------------------------


def test_assistant_resolution_is_recorded(inbox, kb):
    message = customer_writes(inbox, "How do I reset my password?")
    assistant_turn(message)
    assert assistant.assistant_resolve(conversation=message.conversation) is True
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.status == "resolved"
    assert len(events(conversation, EventKind.ASSISTANT_RESOLVED)) == 1


def test_a_handed_off_conversation_is_not_an_assistant_resolution(inbox, kb):
    message = customer_writes(inbox, "human please")
    assistant_turn(message)
    assert assistant.assistant_resolve(conversation=message.conversation) is False
    assert events(message.conversation, EventKind.ASSISTANT_RESOLVED) == []


def test_a_customer_message_is_answered_by_the_assistant_after_commit(inbox, settings, committed):
    """The inbound service itself queues the assistant: no channel has to remember to."""
    settings.ASSISTANT_AUTORUN = True
    make_articles()
    with committed():
        message = customer_writes(inbox, "How do I reset my password?")
    replies = customer_visible_outbound(message.conversation)
    assert [r.sender_kind for r in replies] == ["assistant"]
    assert replies[0].channel_message_id == f"assistant:{message.pk}"


def test_an_inbox_without_the_assistant_is_left_to_people(inbox, settings, committed):
    settings.ASSISTANT_AUTORUN = True
    inbox.assistant_enabled = False
    inbox.save()
    with committed():
        message = customer_writes(inbox, "How do I reset my password?")
    assert customer_visible_outbound(message.conversation) == []
