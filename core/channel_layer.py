"""The in-process channel layer used in embedded mode.

Channels' in-memory layer keeps asyncio queues that belong to the server's event loop. In
embedded mode the Celery worker runs in another thread of the same process, and its
broadcasts arrive on a different loop; touching those queues from there is not
thread-safe and can leave a waiting websocket asleep. This layer hands every send made
from a foreign loop over to the server's loop, so events from the worker reach sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer


class EmbeddedChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    def _elsewhere(self) -> asyncio.AbstractEventLoop | None:
        """The server's loop when called from another running loop, else None."""
        current = asyncio.get_running_loop()
        home = self._home_loop
        if home is None or home is current or home.is_closed() or not home.is_running():
            return None
        return home

    async def receive(self, channel: str) -> Any:
        # Whoever waits for messages is the server: its loop owns the queues.
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        home = self._elsewhere()
        if home is None:
            await super().send(channel, message)
            return
        future = asyncio.run_coroutine_threadsafe(super().send(channel, message), home)
        await asyncio.wrap_future(future)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        home = self._elsewhere()
        if home is None:
            await super().group_send(group, message)
            return
        future = asyncio.run_coroutine_threadsafe(super().group_send(group, message), home)
        await asyncio.wrap_future(future)
