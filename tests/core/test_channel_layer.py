"""The embedded channel layer delivers sends made on other threads' event loops.

In embedded mode the server's loop waits on the layer's queues while the Celery worker,
in another thread, broadcasts through ``async_to_sync`` (a loop of its own per call).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from core.channel_layer import EmbeddedChannelLayer

WAIT = 5.0


class HomeLoop:
    """An event loop running forever in its own thread, like daphne's reactor loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)

    def close(self) -> None:
        self.stop()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()

        async def settle() -> None:
            await asyncio.gather(*pending, return_exceptions=True)

        self.loop.run_until_complete(settle())
        self.loop.close()


@pytest.fixture
def home() -> Iterator[HomeLoop]:
    loop = HomeLoop()
    yield loop
    loop.close()


@pytest.fixture
def layer() -> EmbeddedChannelLayer:
    return EmbeddedChannelLayer()


def _join_group(home: HomeLoop, layer: EmbeddedChannelLayer, group: str) -> str:
    async def join() -> str:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        return channel

    return home.run(join()).result(WAIT)


def _waiting_receive(home: HomeLoop, layer: EmbeddedChannelLayer, channel: str) -> Future[Any]:
    """A receive waiting on the home loop, as a connected websocket consumer's is."""
    received = home.run(layer.receive(channel))
    # Let the receive reach its wait (and the layer learn its home loop) before anyone sends.
    home.run(asyncio.sleep(0.05)).result(WAIT)
    assert not received.done()
    return received


def _in_thread(target: Any) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "the sending thread hung"
    if errors:
        raise errors[0]


def test_group_send_from_a_worker_thread_wakes_the_waiting_receiver(
    home: HomeLoop, layer: EmbeddedChannelLayer
) -> None:
    channel = _join_group(home, layer, "user.7")
    received = _waiting_receive(home, layer, channel)

    # What conversations.realtime does in a Celery task: async_to_sync in a plain thread.
    _in_thread(lambda: async_to_sync(layer.group_send)("user.7", {"type": "live.event", "event": {"n": 1}}))

    assert received.result(WAIT) == {"type": "live.event", "event": {"n": 1}}


def test_send_from_another_running_loop_wakes_the_waiting_receiver(home: HomeLoop, layer: EmbeddedChannelLayer) -> None:
    channel = _join_group(home, layer, "inbox.3")
    received = _waiting_receive(home, layer, channel)

    _in_thread(lambda: asyncio.run(layer.send(channel, {"type": "live.event", "event": {"n": 2}})))

    assert received.result(WAIT) == {"type": "live.event", "event": {"n": 2}}


def test_many_sends_from_several_threads_all_arrive_in_order_per_sender(
    home: HomeLoop, layer: EmbeddedChannelLayer
) -> None:
    channel = _join_group(home, layer, "inbox.1")
    _waiting_receive(home, layer, channel).cancel()  # the layer now knows its home loop

    def sender(thread_no: int) -> None:
        for n in range(20):
            async_to_sync(layer.group_send)("inbox.1", {"type": "live.event", "event": {"t": thread_no, "n": n}})

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)

    async def drain() -> list[dict[str, Any]]:
        return [await asyncio.wait_for(layer.receive(channel), WAIT) for _ in range(60)]

    events = [message["event"] for message in home.run(drain()).result(WAIT * 2)]
    for t in range(3):
        assert [e["n"] for e in events if e["t"] == t] == list(range(20))


def test_group_membership_changed_from_another_thread_is_applied_on_the_home_loop(
    home: HomeLoop, layer: EmbeddedChannelLayer
) -> None:
    channel = _join_group(home, layer, "inbox.1")
    received = _waiting_receive(home, layer, channel)

    _in_thread(lambda: async_to_sync(layer.group_add)("team.9", channel))
    _in_thread(lambda: async_to_sync(layer.group_send)("team.9", {"type": "live.event", "event": {}}))
    assert received.result(WAIT) == {"type": "live.event", "event": {}}

    _in_thread(lambda: async_to_sync(layer.group_discard)("team.9", channel))
    assert "team.9" not in layer.groups


def test_send_on_the_home_loop_itself_is_delivered_directly(home: HomeLoop, layer: EmbeddedChannelLayer) -> None:
    channel = _join_group(home, layer, "user.1")
    received = _waiting_receive(home, layer, channel)

    home.run(layer.group_send("user.1", {"type": "live.event", "event": {"here": True}})).result(WAIT)

    assert received.result(WAIT) == {"type": "live.event", "event": {"here": True}}


def test_send_after_the_home_loop_stopped_neither_hangs_nor_fails(home: HomeLoop, layer: EmbeddedChannelLayer) -> None:
    channel = _join_group(home, layer, "user.2")
    _waiting_receive(home, layer, channel)
    home.stop()  # the server stopped (daphne leaves its loop stopped, not closed) while a task still runs

    _in_thread(lambda: async_to_sync(layer.group_send)("user.2", {"type": "live.event", "event": {}}))


def test_without_a_home_loop_the_layer_works_like_the_in_memory_one(layer: EmbeddedChannelLayer) -> None:
    async def roundtrip() -> Any:
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        await layer.group_send("g", {"type": "live.event", "event": {"x": 1}})
        return await asyncio.wait_for(layer.receive(channel), WAIT)

    assert asyncio.run(roundtrip()) == {"type": "live.event", "event": {"x": 1}}
