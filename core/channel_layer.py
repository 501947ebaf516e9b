"""The in-process channel layer used in embedded mode.

Channels' in-memory layer keeps asyncio queues that belong to the server's event loop. In
embedded mode the Celery worker runs in another thread of the same process, and its
broadcasts arrive on a different loop (``async_to_sync`` makes one per call there); a queue
woken from a foreign thread never tells the server's selector, so the waiting websocket
would sleep until some unrelated traffic happened to wake it. This layer hands every change
made from a foreign loop over to the server's loop, so events from the worker reach sockets
at once, and the layer's dictionaries are only ever touched from one thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)

# A handed-over send normally finishes in microseconds; the bound only matters when the
# server's loop stops in between (shutdown), where waiting forever would wedge the worker.
HANDOFF_TIMEOUT_SECONDS = 10.0


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

    async def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the server's loop when called from elsewhere, else right here."""
        home = self._elsewhere()
        if home is None:
            await coro
            return
        try:
            future = asyncio.run_coroutine_threadsafe(coro, home)
        except RuntimeError:
            # The server's loop closed between the check and the hand-over: nobody listens there.
            coro.close()
            return
        await asyncio.wait_for(asyncio.wrap_future(future), HANDOFF_TIMEOUT_SECONDS)

    async def receive(self, channel: str) -> Any:
        # Whoever waits for messages is the server: its loop owns the queues.
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._run(super().send(channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._run(super().group_send(group, message))

    async def group_add(self, group: str, channel: str) -> None:
        await self._run(super().group_add(group, channel))

    async def group_discard(self, group: str, channel: str) -> None:
        await self._run(super().group_discard(group, channel))

    async def flush(self) -> None:
        await self._run(super().flush())
