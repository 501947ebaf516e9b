"""What the agents' socket relays from a page: typing and who is viewing, only where the agent may see.

Every event goes through the gateway, which checks it against its schema in tests.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db.backends.utils import CursorWrapper
from django.test import override_settings

from conversations.realtime import visitor_group
from inbox_project.asgi import application
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


async def connected(user: Any, path: str = "/ws/agent/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    communicator.scope["user"] = user
    ok, _ = await communicator.connect()
    assert ok
    assert (await communicator.receive_json_from())["type"] == "hello"
    return communicator


async def visitor_listener(conversation_id: int) -> tuple[Any, str]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(visitor_group(conversation_id), channel)
    return layer, channel


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_agent_typing_reaches_teammates_and_the_visitor_but_never_the_outsider(
    agent: Any, teammate: Any, outsider: Any, conversation: Any
) -> None:
    async def scenario() -> None:
        alice, bob, mallory = await connected(agent), await connected(teammate), await connected(outsider)
        layer, visitor = await visitor_listener(conversation.pk)

        await alice.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": True})
        frame = await bob.receive_json_from(timeout=2)
        assert frame == {
            "type": "typing",
            "conversation_id": conversation.pk,
            "sender_kind": "agent",
            "sender_name": "Alice Agent",
            "user_id": agent.pk,
            "is_typing": True,
        }
        delivered = await layer.receive(visitor)
        assert [json.loads(text)["sender_name"] for text in delivered["texts"]] == ["Alice Agent"]
        assert await mallory.receive_nothing(timeout=0.3)

        # "Still typing" again at once is not relayed again; stopping is.
        await alice.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": True})
        await alice.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": False})
        assert (await bob.receive_json_from(timeout=2))["is_typing"] is False
        assert await bob.receive_nothing(timeout=0.3)
        for socket in (alice, bob, mallory):
            await socket.disconnect()

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_typing_a_private_note_is_not_shown_to_the_customer(agent: Any, teammate: Any, conversation: Any) -> None:
    async def scenario() -> None:
        alice, bob = await connected(agent), await connected(teammate)
        layer, visitor = await visitor_listener(conversation.pk)
        await alice.send_json_to(
            {"type": "typing", "conversation_id": conversation.pk, "is_typing": True, "private": True}
        )
        assert (await bob.receive_json_from(timeout=2))["type"] == "typing"
        await alice.disconnect()
        await bob.disconnect()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await layer.receive(visitor)

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_outsider_cannot_announce_typing_or_viewing_in_a_conversation_she_cannot_see(
    agent: Any, outsider: Any, conversation: Any
) -> None:
    async def scenario() -> None:
        alice, mallory = await connected(agent), await connected(outsider)
        await mallory.send_json_to({"type": "typing", "conversation_id": conversation.pk, "is_typing": True})
        await mallory.send_json_to({"type": "viewing", "conversation_id": conversation.pk})
        await mallory.send_json_to({"type": "typing", "conversation_id": "nonsense", "is_typing": True})
        await mallory.send_json_to({"type": "viewing", "conversation_id": True})
        assert await alice.receive_nothing(timeout=0.3)
        assert await mallory.receive_nothing(timeout=0.1)
        await alice.disconnect()
        await mallory.disconnect()

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_agents_see_who_else_is_viewing_a_conversation(
    agent: Any, teammate: Any, outsider: Any, conversation: Any
) -> None:
    other = f.ConversationFactory(inbox=conversation.inbox)

    async def viewers(socket: WebsocketCommunicator) -> list[str]:
        while True:
            frame = await socket.receive_json_from(timeout=2)
            if frame["type"] == "conversation.viewers" and frame["conversation_id"] == conversation.pk:
                return [viewer["name"] for viewer in frame["viewers"]]

    async def scenario() -> None:
        alice, bob, mallory = await connected(agent), await connected(teammate), await connected(outsider)
        await alice.send_json_to({"type": "viewing", "conversation_id": conversation.pk})
        assert await viewers(bob) == ["Alice Agent"]
        await bob.send_json_to({"type": "viewing", "conversation_id": conversation.pk})
        assert await viewers(alice) in (["Alice Agent"], ["Alice Agent", "Bob Teammate"])
        # Alice moves on to another conversation: Bob sees her leave this one.
        await alice.send_json_to({"type": "viewing", "conversation_id": other.pk})
        seen = await viewers(bob)
        while seen != ["Bob Teammate"]:
            seen = await viewers(bob)
        # Bob closes his page: nobody is left.
        await bob.disconnect()
        seen = await viewers(alice)
        while seen:
            seen = await viewers(alice)
        assert await mallory.receive_nothing(timeout=0.3)
        await alice.disconnect()
        await mallory.disconnect()

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_inbox_pages_see_teammates_come_and_go(agent: Any, teammate: Any, outsider: Any, inbox: Any) -> None:
    async def scenario() -> None:
        alice = await connected(agent, "/ws/agent/?presence=1")
        mallory = await connected(outsider, "/ws/agent/?presence=1")
        own = await alice.receive_json_from(timeout=2)
        assert (own["user_id"], own["connected"]) == (agent.pk, True)
        assert (await mallory.receive_json_from(timeout=2))["user_id"] == outsider.pk  # her own, in her inbox

        bob_tab_one = await connected(teammate)
        came = await alice.receive_json_from(timeout=2)
        assert came == {
            "type": "presence",
            "user_id": teammate.pk,
            "name": "Bob Teammate",
            "availability": teammate.agent_profile.availability,
            "connected": True,
        }
        # A second tab is not news, and neither is closing one of two.
        bob_tab_two = await connected(teammate)
        await bob_tab_one.disconnect()
        assert await alice.receive_nothing(timeout=0.3)
        await bob_tab_two.disconnect()
        went = await alice.receive_json_from(timeout=2)
        assert (went["user_id"], went["connected"]) == (teammate.pk, False)
        # The outsider hears nothing of the agents of an inbox she is not in.
        assert await mallory.receive_nothing(timeout=0.3)
        await alice.disconnect()
        await mallory.disconnect()

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_a_client_that_does_not_ask_for_presence_is_not_sent_it(agent: Any, teammate: Any, inbox: Any) -> None:
    async def scenario() -> None:
        alice = await connected(agent)  # an API client: events, not who comes and goes
        bob = await connected(teammate)
        await bob.disconnect()
        assert await alice.receive_nothing(timeout=0.3)
        await alice.disconnect()

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_the_page_is_told_who_is_connected_when_it_loads(client: Any, agent: Any, teammate: Any, inbox: Any) -> None:
    client.force_login(agent)

    async def scenario() -> str:
        bob = await connected(teammate)
        response = await database_sync_to_async(client.get)("/inbox/")
        await bob.disconnect()
        return str(response.content.decode())

    html = async_to_sync(scenario)()
    data = json.loads(html.split('<script id="page-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert {a["id"]: a["connected"] for a in data["agents"]} == {agent.pk: False, teammate.pk: True}


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_the_socket_never_writes_to_the_database(
    monkeypatch: pytest.MonkeyPatch, agent: Any, teammate: Any, conversation: Any
) -> None:
    statements: list[str] = []
    original = CursorWrapper.execute

    def recording(self: Any, sql: str, params: Any = None) -> Any:
        statements.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", recording)

    async def scenario() -> None:
        alice = await connected(agent, "/ws/agent/?presence=1")
        bob = await connected(teammate)
        for frame in (
            {"type": "ping"},
            {"type": "viewing", "conversation_id": conversation.pk},
            {"type": "typing", "conversation_id": conversation.pk, "is_typing": True},
            {"type": "typing", "conversation_id": conversation.pk, "is_typing": False},
            {"type": "viewing", "conversation_id": None},
        ):
            await alice.send_json_to(frame)
        await alice.receive_json_from(timeout=2)
        await alice.disconnect()
        await bob.disconnect()

    async_to_sync(scenario)()
    assert any(sql.lstrip().upper().startswith("SELECT") for sql in statements)  # it did read
    writes = [sql for sql in statements if sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []
