"""Live events committed in a web server's sync thread are sent by the server's event loop, in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from conversations import realtime


class GatedLayer:
    """A channel layer whose sends wait until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[tuple[str, int]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.gate.wait()
        self.sent += [(group, json.loads(text)["n"]) for text in message["texts"]]


def test_a_view_does_not_wait_for_its_events_and_they_go_out_in_commit_order(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = GatedLayer()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)

    def commits_in_a_view() -> None:  # Django's sync thread under daphne: each commit's events
        for n in range(5):
            realtime._deliver_all([({"type": "message.created", "n": n}, ["inbox.1", "inbox.2"])])

    async def server() -> None:
        # Waiting for the layer here would never end: the gate opens only after the view returns.
        await asyncio.wait_for(sync_to_async(commits_in_a_view)(), timeout=5)
        assert layer.sent == []
        layer.gate.set()
        await realtime.delivered()

    async_to_sync(server)()
    assert layer.sent == [(group, n) for n in range(5) for group in ("inbox.1", "inbox.2")]


def test_outside_a_web_server_the_events_are_sent_before_returning(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Celery task or a management command: no server loop to hand them to, so they are sent at once."""
    layer = GatedLayer()
    layer.gate.set()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    realtime._deliver_all([({"type": "message.created", "n": 7}, ["inbox.1"])])
    assert layer.sent == [("inbox.1", 7)]


class LoopRecordingLayer:
    """Records the event loop each send ran on (a channel layer keeps its connections per loop)."""

    def __init__(self) -> None:
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.loops.append(asyncio.get_running_loop())


def test_outside_a_web_server_every_commit_sends_from_the_same_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """One sending loop per process, so the channel layer's Redis connections live on (not one per commit)."""
    import threading

    layer = LoopRecordingLayer()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    realtime._deliver_all([({"type": "message.created", "n": 1}, ["inbox.1"])])
    other = threading.Thread(target=realtime._deliver_all, args=([({"type": "message.created", "n": 2}, ["inbox.1"])],))
    other.start()
    other.join(10)
    realtime._deliver_all([({"type": "message.created", "n": 3}, ["inbox.1"])])

    assert len(layer.loops) == 3 and len(set(layer.loops)) == 1
    assert layer.loops[0].is_running()


def test_a_forked_process_starts_its_own_sending_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    layer = LoopRecordingLayer()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    realtime._deliver_all([({"type": "message.created", "n": 1}, ["inbox.1"])])
    parent_loop = realtime._sender_loop()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's loop thread did not survive the fork
        ok = realtime._sender_loop() is not parent_loop
        realtime._deliver_all([({"type": "message.created", "n": 2}, ["inbox.1"])])
        os.write(writer, b"1" if ok and len(layer.loops) == 2 and layer.loops[1] is not parent_loop else b"0")
        os._exit(0)
    os.close(writer)
    answer = os.read(reader, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"


@pytest.mark.django_db
def test_a_transactions_events_go_out_together_and_a_rolled_back_savepoints_never(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """One delivery per transaction (a savepoint's events apart, dropped with it when it rolls back)."""
    from django.db import transaction

    deliveries: list[list[int]] = []
    monkeypatch.setattr(realtime, "_deliver_all", lambda events: deliveries.append([e["n"] for e, _ in events]))
    monkeypatch.setattr(realtime, "validate_event", lambda event: None)

    def send(n: int) -> None:
        realtime.send_event_on_commit({"type": "message.created", "n": n}, groups=["inbox.1"])

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        send(1)
        send(2)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            send(3)  # its own batch, inside the savepoint
            raise RuntimeError("rolled back")
        send(4)  # joins the transaction's batch again
        with transaction.atomic():
            send(5)
        send(6)
    assert deliveries == [[1, 2, 4], [5], [6]]


def test_several_groups_go_in_one_call_when_the_layer_can_send_many() -> None:
    """A notification to each of an inbox's agents: one ``group_send_many`` (one round trip), not one send each."""

    class ManyLayer:
        def __init__(self) -> None:
            self.many: list[dict[str, Any]] = []
            self.single: list[str] = []

        async def group_send_many(self, messages: dict[str, Any]) -> None:
            self.many.append(messages)

        async def group_send(self, group: str, message: dict[str, Any]) -> None:
            self.single.append(group)

    layer = ManyLayer()
    events = [({"type": "notification.created", "n": n}, [f"user.{n}"]) for n in range(3)]
    async_to_sync(realtime._send_all)(layer, events)
    assert layer.single == [] and len(layer.many) == 1
    assert {group: json.loads(m["texts"][0])["n"] for group, m in layer.many[0].items()} == {
        "user.0": 0,
        "user.1": 1,
        "user.2": 2,
    }
    async_to_sync(realtime._send_all)(layer, [({"type": "message.created", "n": 9}, ["inbox.1"])])
    assert layer.single == ["inbox.1"] and len(layer.many) == 1
