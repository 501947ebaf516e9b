"""The production channel layer: channels_redis's pub/sub layer, plus many groups' messages in one round trip.

A new conversation tells each of an inbox's agents of their own notification: 200 members, 200
groups. channels_redis publishes one message per call, each waiting for Redis's answer behind a
lock on the shard's one connection, so those 200 were 200 round trips one after the other: a tenth
of the worker's CPU per new conversation (bench.live, py-spy), and the last agent heard of it
200 round trips after the first. :meth:`PubSubChannelLayer.group_send_many` publishes them in one
pipeline per shard instead, on the same connection, under the same lock, serialized the same way,
so every receiver sees exactly what ``group_send`` would have sent.

A group's message reaches a web server once and is then handed to each of its sockets there. The
stock layer queues it, still encoded, for every member channel; each socket's consumer then wakes
in channels' receive loop (a task and an ``asyncio.wait`` per message), decodes its own copy and
dispatches it: with 100 agents per server, a third of a daphne's CPU per event went there
(bench.live, py-spy). A consumer may instead take its group messages *directly*
(:meth:`deliver_directly`): the message is decoded once per server and handed to each such
consumer's handler as it arrives; a handler that does not take it (returns False) gets it queued
as before. Everything else (messages to a channel itself, consumers that did not ask) is untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
    _wrap_close,
)
from channels_redis.utils import decode_hosts

# Takes a decoded group message for its channel; False: not taken, queue it as usual.
DirectHandler = Callable[[dict[str, Any]], bool]


class _Shard(RedisSingleShardConnection):
    def _receive_message(self, message: Any) -> None:
        layer: _LoopLayer = self.channel_layer
        if message is None or not layer.direct:
            super()._receive_message(message)
            return
        name = message["channel"]
        name = name.decode() if isinstance(name, bytes) else name
        members = layer.groups.get(name)
        if not members:
            super()._receive_message(message)
            return
        data = message["data"]
        decoded = None
        for channel in list(members):
            handler = layer.direct.get(channel)
            if handler is not None:
                if decoded is None:
                    decoded = layer.channel_layer.deserialize(data)
                if handler(decoded):
                    continue
            queue = layer.channels.get(channel)
            if queue is not None:
                queue.put_nowait(data)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(hosts, *args, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]
        self.direct: dict[str, DirectHandler] = {}

    def deliver_directly(self, channel: str, handler: DirectHandler | None) -> None:
        """Hand ``channel``'s group messages to ``handler`` as they arrive (None: queue them again)."""
        if handler is None:
            self.direct.pop(channel, None)
        else:
            self.direct[channel] = handler


class PubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> _LoopLayer:
        # As the stock layer's, with the loop layer above (one per event loop).
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer

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
