"""Email draft mode through the API: an agent lists the assistant's drafts, sends one (edited or not) or discards it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from conversations.models import DeliveryStatus, EventKind, Handler, Message, SenderKind
from routing import services as assistant
from tests import factories as f
from tests.api.conftest import client_for, error_of
from tests.fakes.mail_servers import SmtpSink, smtp_sink_fixture
from tests.routing.assistant_helpers import assistant_turn, customer_writes, make_articles

__all__ = ["client_for"]  # the API tests' fixture: a token-authenticated client per user

smtp_sink = pytest.fixture(smtp_sink_fixture)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture
def draft_inbox(db: Any, agent: Any, teammate: Any, team: Any, smtp_sink: SmtpSink) -> Any:
    inbox = f.InboxFactory(
        name="Acme Support",
        kind="email",
        members=[agent, teammate],
        default_team=team,
        assistant_mode="draft",
        config={
            "address": "support@example.com",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
            "smtp_use_tls": False,
        },
    )
    make_articles()
    return inbox


@pytest.fixture
def draft(draft_inbox: Any) -> Message:
    message = customer_writes(draft_inbox, "How do I reset my password? I forgot it.")
    assert assistant_turn(message) == "draft"
    return message.conversation.messages.get(sender_kind=SenderKind.ASSISTANT)


def drafts_url(draft: Message) -> str:
    return f"/api/v1/conversations/{draft.conversation_id}/drafts/"


def send_url(draft: Message) -> str:
    return f"{drafts_url(draft)}{draft.pk}/send/"


def discard_url(draft: Message) -> str:
    return f"{drafts_url(draft)}{draft.pk}/discard/"


def test_agent_and_teammate_see_the_pending_draft(client_for: Any, agent: Any, teammate: Any, draft: Message) -> None:
    for user in (agent, teammate):
        response = client_for(user).get(drafts_url(draft), {"status": "pending"})
        assert response.status_code == 200, response.json()
        [listed] = response.json()
        assert listed["id"] == draft.pk and listed["status"] == "pending"
        assert "Forgot password" in listed["body"]
        assert listed["for_message_id"] == draft.metadata["for_message"]
        assert listed["sent_message_id"] is None


def test_outsider_can_neither_see_nor_send_nor_discard_a_draft(
    client_for: Any, outsider: Any, draft: Message, smtp_sink: SmtpSink, committed: Any
) -> None:
    api = client_for(outsider)
    assert api.get(drafts_url(draft)).status_code == 404
    with committed():
        assert api.post(send_url(draft), {"body": "pwned"}, format="json").status_code == 404
        assert api.post(discard_url(draft)).status_code == 404
    draft.refresh_from_db()
    assert assistant.draft_status(draft) == "pending"
    assert smtp_sink.received == []


def test_unknown_status_filter_or_a_message_that_is_not_a_draft_is_refused(
    client_for: Any, agent: Any, draft: Message
) -> None:
    api = client_for(agent)
    response = api.get(drafts_url(draft), {"status": "maybe"})
    assert response.status_code == 400 and "status" in error_of(response)["fields"]
    customer_message = draft.conversation.messages.get(sender_kind=SenderKind.CONTACT)
    assert api.post(f"{drafts_url(draft)}{customer_message.pk}/send/").status_code == 404
    assert api.post(f"{drafts_url(draft)}abc/send/").status_code == 404


def test_sending_an_edited_draft_mails_the_agents_text_once(
    client_for: Any, agent: Any, draft: Message, smtp_sink: SmtpSink, committed: Any, live_events: Any
) -> None:
    api = client_for(agent)
    with committed():  # the send task runs after commit, eagerly in tests
        response = api.post(
            send_url(draft), {"body": "Hi Carol, tap Forgot password on the sign-in page."}, format="json"
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sender_kind"] == "agent" and body["private"] is False
    reply = Message.objects.get(pk=body["id"])
    assert reply.sender_user == agent and reply.delivery_status == DeliveryStatus.SENT
    [mail] = smtp_sink.received
    assert "tap Forgot password on the sign-in page" in mail.message.get_body().get_content()

    draft.refresh_from_db()
    assert draft.metadata["assistant_draft"] == "sent" and draft.metadata["edited"] is True
    assert draft.metadata["sent_as"] == reply.pk and draft.is_private_note
    [event] = live_events.of_type("draft.updated")
    assert event["draft"]["status"] == "sent" and event["draft"]["sent_message_id"] == reply.pk
    assert live_events.groups_of("draft.updated") == [[f"inbox.{draft.conversation.inbox_id}"]]
    assert draft.conversation.events.filter(kind=EventKind.NOTE, data__draft="sent").count() == 1

    with committed():  # the second click
        again = api.post(send_url(draft), {"body": "Hi Carol, tap Forgot password on the sign-in page."}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"
    assert len(smtp_sink.received) == 1
    assert Message.objects.filter(conversation=draft.conversation, sender_kind=SenderKind.AGENT).count() == 1


def test_teammate_sends_the_draft_as_it_is(
    client_for: Any, teammate: Any, draft: Message, smtp_sink: SmtpSink, committed: Any
) -> None:
    with committed():
        response = client_for(teammate).post(send_url(draft))
    assert response.status_code == 201
    assert response.json()["body"] == draft.body
    draft.refresh_from_db()
    assert draft.metadata["edited"] is False and draft.metadata["reviewed_by"] == teammate.pk
    assert len(smtp_sink.received) == 1
    draft.conversation.refresh_from_db()
    # Replying takes the conversation over, as any agent reply does.
    assert draft.conversation.handler == Handler.HUMAN and draft.conversation.assignee == teammate


def test_empty_edited_body_is_a_400_and_sends_nothing(
    client_for: Any, agent: Any, draft: Message, smtp_sink: SmtpSink, committed: Any
) -> None:
    with committed():
        response = client_for(agent).post(send_url(draft), {"body": ""}, format="json")
    assert response.status_code == 400 and "body" in error_of(response)["fields"]
    draft.refresh_from_db()
    assert assistant.draft_status(draft) == "pending" and smtp_sink.received == []


def test_discarding_a_draft_keeps_it_as_a_discarded_note_and_sends_nothing(
    client_for: Any, agent: Any, draft: Message, smtp_sink: SmtpSink, committed: Any, live_events: Any
) -> None:
    api = client_for(agent)
    with committed():
        response = api.post(discard_url(draft))
    assert response.status_code == 200
    assert response.json()["status"] == "discarded" and response.json()["reviewed_by_id"] == agent.pk
    [event] = live_events.of_type("draft.updated")
    assert event["draft"]["status"] == "discarded"
    assert api.post(send_url(draft)).status_code == 409
    assert api.post(discard_url(draft)).status_code == 409
    assert smtp_sink.received == []
    assert [d["status"] for d in api.get(drafts_url(draft)).json()] == ["discarded"]
    assert api.get(drafts_url(draft), {"status": "pending"}).json() == []


def test_a_new_draft_is_announced_to_the_inbox_not_the_customer(draft_inbox: Any, live_events: Any, committed: Any):
    with committed():
        message = customer_writes(draft_inbox, "How do I reset my password?")
        assert assistant_turn(message) == "draft"
    [event] = live_events.of_type("draft.updated")
    assert event["draft"]["status"] == "pending" and event["draft"]["conversation_id"] == message.conversation_id
    assert live_events.groups_of("draft.updated") == [[f"inbox.{draft_inbox.pk}"]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_agents_sending_the_same_draft_at_once_send_it_once(agent: Any, teammate: Any, smtp_sink: SmtpSink):
    inbox = f.InboxFactory(
        kind="email",
        members=[agent, teammate],
        assistant_mode="draft",
        config={
            "address": "support@example.com",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
            "smtp_use_tls": False,
        },
    )
    make_articles()
    message = customer_writes(inbox, "How do I reset my password?")
    assert assistant_turn(message) == "draft"
    draft = message.conversation.messages.get(sender_kind=SenderKind.ASSISTANT)
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def click(i: int, user: Any) -> None:
        try:
            barrier.wait()
            results[i] = assistant.assistant_draft_send(draft=draft, agent=user, body=f"Answer from {user.username}")
        except Exception as exc:  # checked below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(i, user)) for i, user in enumerate((agent, teammate))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent = [r for r in results if isinstance(r, Message)]
    refused = [r for r in results if isinstance(r, assistant.DraftAlreadyReviewed)]
    assert len(sent) == 1 and len(refused) == 1, results
    assert Message.objects.filter(conversation=draft.conversation, sender_kind=SenderKind.AGENT).count() == 1
    assert len(smtp_sink.received) == 1
