"""16. Outsiders: every API operation on another inbox's objects is a 404 or a refusal, and changes nothing.

Each operation of the OpenAPI schema that names an object is called by an agent of another inbox
with the ids of the agent's own objects (conversation, contact, message...). Per-endpoint tests
(tests/api/*) check the same for their resources, the agents' socket its subscriptions
(tests/conversations/test_agent_socket.py), exports (tests/api/test_exports.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from conversations.models import Conversation, Message
from tests import factories as f
from tests.security.test_csrf import fingerprint, operations

pytestmark = pytest.mark.django_db

# Objects every agent may read whoever owns them (the team list, agents' names, their own profile...).
SHARED = (
    "/api/v1/teams/",
    "/api/v1/agents/",
    "/api/v1/tags/",
    "/api/v1/canned-responses/",
    "/api/v1/sla-policies/",
    "/api/v1/knowledge-articles/",
    "/api/v1/routing-rules/",
    "/api/v1/auth/",
)


@pytest.fixture
def agents_objects(agent: Any, conversation: Any) -> dict[str, int]:
    message = f.MessageFactory(conversation=conversation, body="private to the inbox")
    notification = f.NotificationFactory(recipient=agent, conversation=conversation)
    webhook = f.WebhookSubscriptionFactory()
    return {
        "conversation": conversation.pk,
        "contact": conversation.contact_id,
        "message": message.pk,
        "notification": notification.pk,
        "inbox": conversation.inbox_id,
        "webhook": webhook.pk,
    }


def fill(path: str, ids: dict[str, int]) -> str:
    resource = path.split("/")[3]
    key = {
        "conversations": "conversation",
        "contacts": "contact",
        "notifications": "notification",
        "inboxes": "inbox",
        "webhooks": "webhook",
    }.get(resource, "conversation")
    return re.sub(r"\{[^}]+\}", str(ids[key]), path)


def test_an_outsider_gets_nothing_of_another_inbox(outsider: Any, agents_objects: dict[str, int]) -> None:
    client = APIClient()
    client.force_authenticate(outsider)
    before = fingerprint()
    checked = 0
    for method, path in operations():
        if "{" not in path or path.startswith(SHARED):
            continue
        url = fill(path, agents_objects)
        response = getattr(client, method)(url, {}, format="json") if method != "get" else client.get(url)
        assert response.status_code in (403, 404), f"{method.upper()} {url}: {response.status_code}"
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"private to the inbox" not in body
        checked += 1
    assert checked >= 15
    assert fingerprint() == before


def test_lists_and_search_show_an_outsider_nothing_of_another_inbox(outsider: Any, agents_objects: Any) -> None:
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/v1/conversations/").json()["results"] == []
    assert client.get("/api/v1/conversations/", {"q": "private"}).json()["results"] == []
    assert client.get("/api/v1/contacts/").json()["results"] == []
    assert client.get("/api/v1/conversations/export.csv").status_code in (200, 403)
    export = client.get("/api/v1/conversations/export.csv")
    if export.status_code == 200:
        content = b"".join(export.streaming_content) if export.streaming else export.content
        assert b"private to the inbox" not in content


def test_ids_a_client_should_not_set_are_not_followed(agent: Any, outsider: Any, conversation: Any) -> None:
    """Moving a conversation or message to another inbox or contact by sending their ids does nothing."""
    other_inbox = outsider.inboxes.first() if hasattr(outsider, "inboxes") else None
    other_contact = f.ContactFactory(name="Someone else")
    client = APIClient()
    client.force_authenticate(agent)
    payload = {
        "inbox": getattr(other_inbox, "pk", 999999),
        "contact": other_contact.pk,
        "inbox_id": 1,
        "contact_id": other_contact.pk,
        "conversation": 999999,
    }
    client.patch(f"/api/v1/conversations/{conversation.pk}/", payload, format="json")
    sent = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/", {"body": "hello", **payload}, format="json"
    )
    conversation.refresh_from_db()
    assert conversation.contact_id != other_contact.pk
    assert Conversation.objects.filter(pk=conversation.pk, inbox_id=conversation.inbox_id).exists()
    if sent.status_code == 201:
        message = Message.objects.get(pk=sent.json()["id"])
        assert message.conversation_id == conversation.pk and message.inbox_id == conversation.inbox_id
