"""Many groups' messages in one round trip, received exactly as channels_redis's own group_send sends them."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from core.pubsub_layer import PubSubChannelLayer

pytestmark = pytest.mark.redis


def _layer(cls: type[Any] = PubSubChannelLayer) -> Any:
    return cls(hosts=[os.environ["TEST_REDIS_URL"]], prefix=f"test-many-{os.getpid()}")


def test_each_group_gets_its_message_in_one_pipelined_round_trip() -> None:
    async def scenario() -> tuple[list[Any], int, int]:
        sender, receiver = _layer(), _layer(RedisPubSubChannelLayer)  # a server running the stock layer
        channels = [await receiver.new_channel() for _ in range(3)]
        for n, channel in enumerate(channels):
            await receiver.group_add(f"user.{n}", channel)
        await receiver.group_add("user.0", channels[2])  # a socket in two groups hears both
        await asyncio.sleep(0.1)  # the subscriptions reach Redis

        shard_redis = sender._get_layer()._shards[0]
        shard_redis._ensure_redis()
        pipelines, direct = [], []
        real_pipeline, real_publish = shard_redis._redis.pipeline, shard_redis._redis.publish

        def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
            pipelines.append(1)
            return real_pipeline(*args, **kwargs)

        async def counting_publish(*args: Any, **kwargs: Any) -> Any:
            direct.append(1)
            return await real_publish(*args, **kwargs)

        shard_redis._redis.pipeline, shard_redis._redis.publish = counting_pipeline, counting_publish
        await sender.group_send_many(
            {f"user.{n}": {"type": "live.event", "texts": [f'{{"n": {n}}}', "é <b>"]} for n in range(3)}
        )
        received = [await asyncio.wait_for(receiver.receive(channel), 5) for channel in channels]
        received.append(await asyncio.wait_for(receiver.receive(channels[2]), 5))
        await sender.flush()
        await receiver.flush()
        return received, len(pipelines), len(direct)

    received, pipelines, direct = asyncio.run(scenario())
    assert (pipelines, direct) == (1, 0)
    assert received[:2] == [{"type": "live.event", "texts": [f'{{"n": {n}}}', "é <b>"]} for n in range(2)]
    assert sorted(message["texts"][0] for message in received[2:]) == ['{"n": 0}', '{"n": 2}']


def test_a_channel_that_asks_gets_its_group_messages_directly_decoded_once() -> None:
    """Live events go straight to the handler; what it does not take, and channels that did not ask, are queued."""

    async def scenario() -> tuple[list[Any], list[Any], Any, Any, Any]:
        sender, receiver = _layer(RedisPubSubChannelLayer), _layer()
        direct, queued = await receiver.new_channel(), await receiver.new_channel()
        for channel in (direct, queued):
            await receiver.group_add("inbox.1", channel)
        taken: list[Any] = []

        def take(message: dict[str, Any]) -> bool:
            if message["type"] != "live.event":
                return False
            taken.append(message)
            return True

        receiver.deliver_directly(direct, take)
        await asyncio.sleep(0.1)  # the subscriptions reach Redis

        decoded: list[Any] = []
        real_deserialize = receiver.deserialize

        def counting_deserialize(data: bytes) -> Any:
            decoded.append(1)
            return real_deserialize(data)

        receiver.deserialize = counting_deserialize
        event = {"type": "live.event", "texts": ['{"type": "message.created"}']}
        await sender.group_send("inbox.1", event)
        await sender.group_send("inbox.1", {"type": "other.thing"})
        from_queue = [await asyncio.wait_for(receiver.receive(queued), 5) for _ in range(2)]
        other = await asyncio.wait_for(receiver.receive(direct), 5)  # not taken: queued as before
        receiver.deliver_directly(direct, None)
        await sender.group_send("inbox.1", event)
        after = await asyncio.wait_for(receiver.receive(direct), 5)
        await asyncio.wait_for(receiver.receive(queued), 5)
        await sender.flush()
        await receiver.flush()
        return taken, from_queue, other, after, len(decoded)

    taken, from_queue, other, after, decodes = asyncio.run(scenario())
    event = {"type": "live.event", "texts": ['{"type": "message.created"}']}
    assert taken == [event]
    assert from_queue == [event, {"type": "other.thing"}]
    assert other == {"type": "other.thing"}
    assert after == event
    # One decode per message for the direct channel, plus the queued channels' own (receive decodes).
    assert decodes == 2 + 3 + 2
