"""The issue's `make run` check, through the widget's real HTTP endpoints with no API key.

A visitor asks a question the knowledge base answers and gets an answer; then types "can I talk
to a real person" and is handed to an agent, who sees the summary. The assistant runs the way it
does in `make run`: queued by the inbound service after commit (ASSISTANT_AUTORUN), through
Celery (eager in tests), with the built-in local responder because ANTHROPIC_API_KEY is unset.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache

from conversations.demo import ARTICLES
from conversations.models import Conversation, EventKind, Handler, SenderKind
from routing import services as assistant
from routing.assistant import get_backend
from routing.models import KnowledgeArticle
from tests import factories as f
from tests.api.conftest import client_for

__all__ = ["client_for"]

ORIGIN = "https://www.example.com"


@pytest.fixture(autouse=True)
def _make_run(settings: Any) -> None:
    cache.clear()  # the widget's rate limits
    settings.ASSISTANT_AUTORUN = True
    settings.ANTHROPIC_API_KEY = ""


@pytest.fixture
def help_centre(db: Any) -> None:
    """The demo company's knowledge base, as `make run` seeds it."""
    for spec in ARTICLES:
        KnowledgeArticle.objects.create(
            title=spec.title,
            body=spec.body.replace("{domain}", "example.com"),
            keywords=spec.keywords,
            topic=spec.topic,
        )


@pytest.fixture
def chat_inbox(agent: Any, teammate: Any, team: Any) -> Any:
    return f.InboxFactory(
        name="Website chat",
        kind="webchat",
        members=[agent, teammate],
        default_team=team,
        config={"allowed_origins": [ORIGIN]},
    )


def widget(client: Any, inbox: Any, what: str, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"/channels/webchat/{inbox.webhook_token}/{what}/",
        json.dumps(data),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code in (200, 201), response.content
    return dict(response.json())


def test_visitor_gets_an_answer_then_reaches_a_person_who_sees_the_summary(
    client: Any,
    chat_inbox: Any,
    help_centre: None,
    agent: Any,
    teammate: Any,
    team: Any,
    client_for: Any,
    committed: Any,
) -> None:
    assert get_backend().name == "local"
    token = widget(client, chat_inbox, "session", {})["token"]

    with committed():  # the assistant runs after the visitor's message commits
        widget(client, chat_inbox, "messages", {"token": token, "body": "hi, how do i reset my password?"})
    history = widget(client, chat_inbox, "session", {"token": token})["messages"]
    assert [m["sender_kind"] for m in history] == ["contact", "assistant"]
    assert "Forgot password" in history[1]["body"]

    with committed():
        widget(client, chat_inbox, "messages", {"token": token, "body": "can I talk to a real person"})
    history = widget(client, chat_inbox, "session", {"token": token})["messages"]
    assert [m["sender_kind"] for m in history] == ["contact", "assistant", "contact", "assistant"]
    assert history[-1]["body"] == assistant.HANDOFF_NOTICE  # told a person is coming

    conversation_id = widget(client, chat_inbox, "session", {"token": token})["conversation_id"]
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.handler == Handler.HUMAN
    handoff = conversation.events.get(kind=EventKind.HANDOFF)
    assert handoff.data["reason"] == "customer_asked"

    # The agent sees the summary in the API the agent UI reads.
    detail = client_for(agent).get(f"/api/v1/conversations/{conversation.pk}/").json()
    assert "reset my password" in detail["summary"]
    # Routed to the inbox's team through the handoff hook (notifications listen on the same hook: the sla branch).
    assert conversation.team == team and conversation.assignee in (agent, teammate)

    # The assistant has stopped answering: the next message waits for the person.
    with committed():
        widget(client, chat_inbox, "messages", {"token": token, "body": "hello? still there?"})
    assert conversation.messages.filter(sender_kind=SenderKind.ASSISTANT).count() == 2
