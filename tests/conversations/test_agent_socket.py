"""The agents' websocket: who may connect, and which events reach whom."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from conversations import realtime, services
from inbox_project.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


async def connect(path: str, user: Any = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    if user is not None:
        communicator.scope["user"] = user
    return communicator


def recorded_group_sends(layer: Any, monkeypatch: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every (group, message) the layer is sent from now on; still sent."""
    sent: list[tuple[str, dict[str, Any]]] = []
    original = layer.group_send

    async def recording(group: str, message: dict[str, Any]) -> None:
        sent.append((group, message))
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", recording)
    return sent


def live(event: dict[str, Any], group: str) -> None:
    async_to_sync(get_channel_layer().group_send)(group, realtime.delivery_message(json.dumps(event)))


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_anonymous_socket_is_refused():
    async def scenario() -> None:
        communicator = await connect("/ws/agent/")
        connected, code = await communicator.connect()
        assert not connected and code == 4401

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_ticket_connects_and_a_forged_or_stale_one_does_not(agent, inbox):
    ticket = realtime.issue_ticket(agent.pk)

    async def scenario() -> None:
        ok = await connect(f"/ws/agent/?ticket={ticket}")
        connected, _ = await ok.connect()
        assert connected
        hello = await ok.receive_json_from()
        assert hello == {"type": "hello", "user_id": agent.pk, "inbox_ids": [inbox.pk]}
        await ok.disconnect()
        for bad in (ticket + "x", "nonsense"):
            refused = await connect(f"/ws/agent/?ticket={bad}")
            connected, code = await refused.connect()
            assert not connected and code == 4401

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_ticket_of_a_deactivated_agent_is_refused(agent):
    ticket = realtime.issue_ticket(agent.pk)
    agent.is_active = False
    agent.save()

    async def scenario() -> None:
        communicator = await connect(f"/ws/agent/?ticket={ticket}")
        connected, code = await communicator.connect()
        assert not connected and code == 4401

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_an_event_reaches_the_inbox_agents_and_never_the_outsider(agent, teammate, outsider, inbox):
    async def scenario() -> None:
        sockets = {}
        for name, user in (("agent", agent), ("teammate", teammate), ("outsider", outsider)):
            communicator = await connect("/ws/agent/", user)
            connected, _ = await communicator.connect()
            assert connected
            await communicator.receive_json_from()  # hello
            sockets[name] = communicator
        result = await database_sync_to_async(services.message_receive_inbound)(
            inbox=inbox, identity_kind="web_visitor", identity_value="v-77", body="Where is my parcel?"
        )
        for name in ("agent", "teammate"):
            frames = [await sockets[name].receive_json_from(timeout=2) for _ in range(2)]
            assert [f["type"] for f in frames] == ["conversation.created", "message.created"]
            assert frames[1]["message"]["id"] == result.message.pk
        assert await sockets["outsider"].receive_nothing(timeout=0.3)
        for communicator in sockets.values():
            await communicator.disconnect()

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_forwarding_a_live_event_takes_no_trip_through_the_sync_thread(agent, inbox, monkeypatch):
    """Channels closes old database connections in Django's sync thread before each message it
    dispatches; a live event reads no database, and 200 sockets x every event queued there."""
    import channels.consumer

    trips: list[str] = []
    original = channels.consumer.aclose_old_connections

    async def counted() -> None:
        trips.append("close_old_connections")
        await original()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    ticket = realtime.issue_ticket(agent.pk)

    async def scenario() -> None:
        communicator = await connect(f"/ws/agent/?ticket={ticket}")
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_json_from()  # hello
        before = len(trips)
        for n in range(3):
            await get_channel_layer().group_send(
                realtime.inbox_group(inbox.pk),
                realtime.delivery_message(json.dumps({"type": "conversation.updated", "n": n})),
            )
        assert [(await communicator.receive_json_from())["n"] for _ in range(3)] == [0, 1, 2]
        assert len(trips) == before
        await communicator.send_json_to({"type": "ping"})  # the socket's own frames still go through it
        assert (await communicator.receive_json_from())["type"] == "pong"
        assert len(trips) == before + 1
        await communicator.disconnect()

    async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_a_commits_events_reach_a_socket_in_one_message_as_one_frame_each_encoded_once(agent, inbox, monkeypatch):
    """The sender puts each event's JSON in the group's one message; each socket sends those texts, a frame each."""
    layer = get_channel_layer()
    sent = recorded_group_sends(layer, monkeypatch)
    ticket = realtime.issue_ticket(agent.pk)
    group = realtime.inbox_group(inbox.pk)
    created = {"type": "message.created", "message": {"id": 3, "body": "Caf\u00e9 <b>"}}
    updated = {"type": "conversation.updated", "conversation": {"id": 7}, "changes": ["last_message_at"]}
    notified = {"type": "notification.created", "notification": {"id": 1}}

    async def scenario() -> None:
        communicator = await connect(f"/ws/agent/?ticket={ticket}")
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_json_from()  # hello
        await realtime._send_all(
            layer, [(created, [group]), (updated, [group]), (notified, [realtime.user_group(agent.pk)])]
        )
        frames = [await communicator.receive_from() for _ in range(3)]
        assert frames[:2] == [json.dumps(created), json.dumps(updated)]  # the inbox's events in their order
        assert frames[2] == json.dumps(notified)
        # A message whose texts differ from any event shows the socket forwards the texts as they are.
        await layer.group_send(group, realtime.delivery_message('{"type": "x"}', '{"type": "y"}'))
        assert [await communicator.receive_from() for _ in range(2)] == ['{"type": "x"}', '{"type": "y"}']
        await communicator.disconnect()

    async_to_sync(scenario)()
    by_group = dict(sent[:2])
    assert by_group == {
        group: {"type": realtime.DELIVERY_TYPE, "texts": [json.dumps(created), json.dumps(updated)]},
        realtime.user_group(agent.pk): {"type": realtime.DELIVERY_TYPE, "texts": [json.dumps(notified)]},
    }


@pytest.mark.redis
def test_with_the_redis_layer_live_events_skip_the_consumers_queue_and_keep_their_order(agent, inbox, monkeypatch):
    """The production layer hands a socket its live events directly (core/pubsub_layer.py): frames in order."""
    import os

    from conversations.consumers import LiveEventConsumer

    layers = {
        "default": {
            "BACKEND": "core.pubsub_layer.PubSubChannelLayer",
            "CONFIG": {"hosts": [os.environ["TEST_REDIS_URL"]], "prefix": f"direct-{os.getpid()}"},
        }
    }
    dispatched: list[str] = []
    real_dispatch = LiveEventConsumer.dispatch

    async def recording_dispatch(self: Any, message: dict[str, Any]) -> None:
        dispatched.append(message["type"])
        await real_dispatch(self, message)

    monkeypatch.setattr(LiveEventConsumer, "dispatch", recording_dispatch)

    async def scenario() -> None:
        layer = get_channel_layer()
        communicator = await connect("/ws/agent/", agent)
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_json_from()  # hello
        direct = layer._get_layer().direct
        assert len(direct) == 1
        for n in range(3):
            texts = [json.dumps({"type": "message.created", "n": n, "part": part}) for part in (1, 2)]
            await layer.group_send(realtime.inbox_group(inbox.pk), realtime.delivery_message(*texts))
        frames = [await communicator.receive_json_from(timeout=5) for _ in range(6)]
        assert [(f["n"], f["part"]) for f in frames] == [(n, part) for n in range(3) for part in (1, 2)]
        assert realtime.DELIVERY_TYPE not in dispatched
        await communicator.disconnect()
        assert direct == {}
        await layer.flush()

    with override_settings(CHANNEL_LAYERS=layers):
        async_to_sync(scenario)()


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_events_for_single_members_ride_in_the_inbox_groups_one_message_and_reach_only_their_own(
    agent, teammate, inbox, monkeypatch
):
    """A new conversation tells 200 members: one message to the inbox group, not one each (realtime.Personal)."""
    layer = get_channel_layer()
    sent = recorded_group_sends(layer, monkeypatch)
    group = realtime.inbox_group(inbox.pk)
    created = {"type": "conversation.created", "conversation": {"id": 7}}
    hers = {"type": "notification.created", "notification": {"id": 1}}
    his = {"type": "notification.created", "notification": {"id": 2}}

    async def scenario() -> None:
        sockets = []
        for user in (agent, teammate):
            communicator = await connect(f"/ws/agent/?ticket={realtime.issue_ticket(user.pk)}")
            assert (await communicator.connect())[0]
            await communicator.receive_json_from()  # hello
            sockets.append(communicator)
        await realtime._send_all(
            layer,
            [
                (created, [group]),
                (hers, [realtime.Personal(agent.pk, via=group)]),
                (his, [realtime.Personal(teammate.pk, via=group)]),
            ],
        )
        assert [await sockets[0].receive_json_from() for _ in range(2)] == [created, hers]
        assert [await sockets[1].receive_json_from() for _ in range(2)] == [created, his]
        for communicator in sockets:
            assert await communicator.receive_nothing(timeout=0.2)
            await communicator.disconnect()

    async_to_sync(scenario)()
    assert [(to, message) for to, message in sent if to.startswith("inbox.")] == [
        (
            group,
            realtime.delivery_message(
                json.dumps(created), personal={str(agent.pk): [json.dumps(hers)], str(teammate.pk): [json.dumps(his)]}
            ),
        )
    ]
    assert not [to for to, _ in sent if to.startswith("user.")]  # nothing to the members' own groups
    # Everything else knows it by the user's own group's name.
    assert realtime.Personal(agent.pk, via=group) == realtime.user_group(agent.pk)
