"""The visitor's websocket: origin and ticket checks, live replies, no private notes, typing both ways."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.core import signing
from django.core.cache import cache

from channels_app.webchat import visitors
from channels_app.webchat.routing import with_widget_sockets
from conversations import services
from conversations.models import Conversation
from conversations.realtime import delivery_message, inbox_group, send_event_on_commit, visitor_group
from inbox_project.routing import websocket_urlpatterns

ORIGIN = "https://www.example.com"
TIMEOUT = 3

# The websocket side of inbox_project/asgi.py as it should be (see channels_app/webchat/routing.py).
application = with_widget_sockets(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))))

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def visitor_conversation(client: Any, inbox: Any, body: str = "hello") -> tuple[Conversation, str]:
    """A visitor who wrote once over HTTP, and the socket ticket the widget got back."""
    session = client.post(
        f"/channels/webchat/{inbox.webhook_token}/session/", "{}", content_type="application/json", HTTP_ORIGIN=ORIGIN
    ).json()
    sent = client.post(
        f"/channels/webchat/{inbox.webhook_token}/messages/",
        json.dumps({"token": session["token"], "body": body, "name": "Vera Visitor"}),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    ).json()
    return Conversation.objects.get(pk=sent["conversation_id"]), sent["ticket"]


def communicator(ticket: str, origin: str = ORIGIN, path: str = "/ws/widget/") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"{path}?ticket={ticket}", headers=[(b"origin", origin.encode())])


async def nothing_more(ws: WebsocketCommunicator) -> None:
    assert await ws.receive_nothing(timeout=0.3)


def test_an_allowed_foreign_origin_connects_and_gets_agent_replies_live(client: Any, inbox: Any, agent: Any) -> None:
    conversation, ticket = visitor_conversation(client, inbox)

    async def scenario() -> None:
        ws = communicator(ticket)
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert connected
        assert await ws.receive_json_from(TIMEOUT) == {"type": "hello", "conversation_id": conversation.pk}
        await sync_to_async(services.message_send_reply)(conversation=conversation, author=agent, body="On my way")
        frame = await ws.receive_json_from(TIMEOUT)
        assert frame["type"] == "message.created"
        assert frame["message"]["body"] == "On my way"
        assert frame["message"]["sender_name"] == "Alice Agent"
        assert set(frame["message"]) == {
            "id",
            "client_id",
            "direction",
            "sender_kind",
            "sender_name",
            "body",
            "created_at",
            "attachments",
        }
        await ws.disconnect()

    run(scenario)


def test_private_notes_never_reach_the_visitor_socket(client: Any, inbox: Any, agent: Any) -> None:
    conversation, ticket = visitor_conversation(client, inbox)

    async def scenario() -> None:
        ws = communicator(ticket)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(TIMEOUT)
        await sync_to_async(services.note_add)(conversation=conversation, author=agent, body="internal only")
        await nothing_more(ws)
        # Even a note pushed to the visitor's group by mistake is not forwarded.
        note = {"type": "message.created", "message": {"is_private_note": True, "conversation_id": conversation.pk}}
        await get_channel_layer().group_send(visitor_group(conversation.pk), delivery_message(json.dumps(note)))
        await nothing_more(ws)
        await sync_to_async(services.message_send_reply)(conversation=conversation, author=agent, body="public")
        assert (await ws.receive_json_from(TIMEOUT))["message"]["body"] == "public"
        await ws.disconnect()

    run(scenario)


@pytest.mark.parametrize("origin", ["https://evil.example.net", "http://127.0.0.1:8000.evil.net", ""])
def test_a_socket_from_an_origin_the_inbox_does_not_allow_is_refused(client: Any, inbox: Any, origin: str) -> None:
    _, ticket = visitor_conversation(client, inbox)

    async def scenario() -> None:
        ws = communicator(ticket, origin=origin)
        connected, code = await ws.connect(timeout=TIMEOUT)
        assert not connected
        assert code == 4403

    run(scenario)


def test_a_socket_with_a_tampered_forged_or_expired_ticket_is_refused(
    client: Any, inbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ticket = visitor_conversation(client, inbox)
    other, _ = visitor_conversation(client, inbox, body="someone else")
    forged = signing.dumps({"i": inbox.pk, "c": other.pk, "n": "x"}, salt="some-other-salt")
    visitor_token = visitors.issue_visitor_token(inbox)[0]  # a visitor token is no ticket

    async def scenario() -> None:
        for bad in (ticket[:-3] + "abc", forged, visitor_token, "", "%00"):
            connected, code = await communicator(bad).connect(timeout=TIMEOUT)
            assert (connected, code) == (False, 4401), bad

    run(scenario)

    monkeypatch.setattr(visitors, "TICKET_MAX_AGE", -1)  # the same ticket, expired

    async def expired() -> None:
        assert (await communicator(ticket).connect(timeout=TIMEOUT)) == (False, 4401)

    run(expired)


def test_the_agents_socket_still_refuses_foreign_origins(client: Any, inbox: Any) -> None:
    async def scenario() -> None:
        ws = WebsocketCommunicator(application, "/ws/agent/", headers=[(b"origin", ORIGIN.encode())])
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert not connected

    run(scenario)


def test_visitor_typing_goes_through_the_gateway_to_the_inbox_agents(client: Any, inbox: Any, live_events: Any) -> None:
    conversation, ticket = visitor_conversation(client, inbox)
    live_events.clear()

    async def scenario() -> None:
        ws = communicator(ticket)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(TIMEOUT)

        await ws.send_json_to({"type": "typing", "is_typing": True})
        await ws.send_json_to({"type": "typing", "is_typing": True})  # still typing: not relayed again yet
        await ws.send_json_to({"type": "typing", "is_typing": "yes"})  # malformed: ignored
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(TIMEOUT) == {"type": "pong"}  # the relays above have run

        await ws.send_json_to({"type": "typing", "is_typing": False})
        await ws.disconnect()

    run(scenario)
    contact_typing = [event for event in live_events.of_type("typing") if event["sender_kind"] == "contact"]
    assert contact_typing == [
        {
            "type": "typing",
            "conversation_id": conversation.pk,
            "sender_kind": "contact",
            "sender_name": "Vera Visitor",
            "is_typing": flag,
        }
        for flag in (True, False)
    ]
    assert live_events.groups_of("typing") == [[inbox_group(inbox.pk)]] * 2


def test_agent_typing_is_forwarded_to_the_visitor_socket(client: Any, inbox: Any) -> None:
    conversation, ticket = visitor_conversation(client, inbox)

    async def scenario() -> None:
        ws = communicator(ticket)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(TIMEOUT)
        event = {
            "type": "typing",
            "conversation_id": conversation.pk,
            "sender_kind": "agent",
            "sender_name": "Alice Agent",
            "is_typing": True,
        }
        await sync_to_async(send_event_on_commit)(event, groups=[visitor_group(conversation.pk)])
        assert await ws.receive_json_from(TIMEOUT) == {
            "type": "typing",
            "sender_name": "Alice Agent",
            "is_typing": True,
        }
        # The visitor's own typing (or another conversation's) is not echoed back.
        for stray in ({**event, "sender_kind": "contact"}, {**event, "conversation_id": conversation.pk + 999}):
            await get_channel_layer().group_send(visitor_group(conversation.pk), delivery_message(json.dumps(stray)))
        await nothing_more(ws)
        await ws.disconnect()

    run(scenario)


def test_the_visitor_socket_joins_only_its_own_conversation(client: Any, inbox: Any, agent: Any) -> None:
    conversation_a, ticket_a = visitor_conversation(client, inbox, body="A here")
    conversation_b, _ = visitor_conversation(client, inbox, body="B here")
    assert conversation_a.pk != conversation_b.pk

    async def scenario() -> None:
        ws = communicator(ticket_a)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.receive_json_from(TIMEOUT)
        await sync_to_async(services.message_send_reply)(conversation=conversation_b, author=agent, body="for B")
        await nothing_more(ws)
        await ws.disconnect()

    run(scenario)
