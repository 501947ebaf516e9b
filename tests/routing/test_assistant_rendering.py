"""The assistant's text where customers see it: links only to allowed hosts, markup never rendered.

In the widget every message body is inserted with textContent (tests/channels_app/test_webchat_browser.py
shows an outbound ``<img onerror>`` arriving as text, the same code path as the assistant's replies); the
visitor's API returns bodies as JSON strings. By email the assistant's reply is a text/plain mail with no
HTML part. What the backend writes passes the link allow-list in the service, whatever the backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from conversations.models import SenderKind
from routing import services as assistant
from routing.assistant.types import AssistantContext, AssistantResult
from tests import factories as f
from tests.fakes.anthropic_server import FakeAnthropic, completion_json, fake_anthropic
from tests.fakes.mail_servers import SmtpSink, smtp_sink_fixture
from tests.routing.assistant_helpers import assistant_turn, customer_writes, make_articles

smtp_sink = pytest.fixture(smtp_sink_fixture)
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

HOSTILE_REPLY = (
    'Reset it here: https://help.acme.example/password or <a href="https://evil.example.net/login">here</a> '
    "<script>alert(1)</script> and log in at phish.example.com"
)


@pytest.fixture
def claude(settings: Any) -> Iterator[FakeAnthropic]:
    with fake_anthropic() as server:
        settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
        settings.ANTHROPIC_BASE_URL = server.base_url
        settings.ANTHROPIC_MAX_RETRIES = 0
        settings.ANTHROPIC_MODEL = "claude-test-model"
        yield server


@pytest.fixture
def email_inbox(agent: Any, team: Any, smtp_sink: SmtpSink) -> Any:
    return f.InboxFactory(
        kind="email",
        members=[agent],
        default_team=team,
        config={
            "address": "support@example.com",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
            "smtp_use_tls": False,
        },
    )


def test_emailed_answer_is_plain_text_with_only_allowed_links(
    email_inbox: Any, claude: FakeAnthropic, smtp_sink: SmtpSink, committed: Any
) -> None:
    make_articles()  # the password article links to help.acme.example
    claude.reply(completion_json(reply=HOSTILE_REPLY, confidence=0.9, topic="technical"))
    message = customer_writes(email_inbox, "How do I reset my password?")
    with committed():  # the send task runs after commit
        assert assistant_turn(message) == "reply"
    [mail] = smtp_sink.received
    assert mail.message.get_content_type() == "text/plain"
    assert not any(part.get_content_type() == "text/html" for part in mail.message.walk())
    body = mail.message.get_content()
    assert "https://help.acme.example/password" in body
    assert "evil.example.net" not in body and "phish.example.com" not in body
    assert body.count("[link removed]") == 2


def test_widget_history_returns_the_answer_as_a_string_without_foreign_links(
    client: Any, inbox: Any, claude: FakeAnthropic, settings: Any, committed: Any
) -> None:
    cache.clear()
    settings.ASSISTANT_AUTORUN = True
    make_articles()
    claude.reply(completion_json(reply=HOSTILE_REPLY, confidence=0.9, topic="technical"))
    origin = "https://www.example.com"

    def widget(what: str, data: dict[str, Any]) -> dict[str, Any]:
        response = client.post(
            f"/channels/webchat/{inbox.webhook_token}/{what}/",
            json.dumps(data),
            content_type="application/json",
            HTTP_ORIGIN=origin,
        )
        assert response.status_code in (200, 201), response.content
        return dict(response.json())

    token = widget("session", {})["token"]
    with committed():
        widget("messages", {"token": token, "body": "How do I reset my password?"})
    [answer] = [m for m in widget("session", {"token": token})["messages"] if m["sender_kind"] == "assistant"]
    assert isinstance(answer["body"], str)
    assert "evil.example.net" not in answer["body"] and "phish.example.com" not in answer["body"]
    assert "https://help.acme.example/password" in answer["body"]


class _LinkingBackend:
    """A backend that links where it should not: the service filters every backend's reply, not only Claude's."""

    name = "linking"

    def answer(self, context: AssistantContext) -> AssistantResult:
        return AssistantResult(
            action="reply",
            reply="See https://evil.example.net/x and https://help.acme.example/password",
            confidence=0.9,
        )


def test_links_from_any_backend_are_limited_to_the_knowledge_base_and_the_company(inbox: Any) -> None:
    make_articles()
    message = customer_writes(inbox, "How do I reset my password?")
    assert assistant.assistant_process_message(message=message, backend=_LinkingBackend()) == "reply"
    reply = message.conversation.messages.get(sender_kind=SenderKind.ASSISTANT)
    assert reply.body == "See [link removed] and https://help.acme.example/password"
