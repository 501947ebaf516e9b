"""The production channel layer: channels_redis's pub/sub layer, plus many groups' messages in one round trip.

A new conversation tells each of an inbox's agents of their own notification: 200 members, 200
groups. channels_redis publishes one message per call, each waiting for Redis's answer behind a
lock on the shard's one connection, so those 200 were 200 round trips one after the other: a tenth
of the worker's CPU per new conversation (bench.live, py-spy), and the last agent heard of it
200 round trips after the first. :meth:`PubSubChannelLayer.group_send_many` publishes them in one
pipeline per shard instead, on the same connection, under the same lock, serialized the same way,
so every receiver sees exactly what ``group_send`` would have sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer


class PubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_send_many(self, messages: Mapping[str, dict[str, Any]]) -> None:
        """Send each group its message, one pipelined round trip per shard (order kept within a shard)."""
        layer = self._get_layer()
        by_shard: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}
        for group, message in messages.items():
            channel = layer._get_group_channel_name(group)
            shard = layer._get_shard(channel)
            by_shard.setdefault(id(shard), (shard, []))[1].append((channel, self.serialize(message)))
        for shard, publishes in by_shard.values():
            async with shard._lock:
                shard._ensure_redis()
                pipeline = shard._redis.pipeline(transaction=False)
                for channel, data in publishes:
                    pipeline.publish(channel, data)
                await pipeline.execute()
