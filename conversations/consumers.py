"""The agents' websocket: it authenticates, joins the groups the agent may see, and delivers.

It never writes to the database; agents act through the REST API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations.realtime import inbox_group, user_for_ticket, user_group
from conversations.selectors import inbox_ids_visible_to


class AgentConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Clients that cannot send the session cookie present a short-lived ticket instead.
            ticket = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("ticket", [""])[0]
            user = await database_sync_to_async(user_for_ticket)(ticket) if ticket else None
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        inbox_ids = await database_sync_to_async(inbox_ids_visible_to)(user)
        self.joined = [inbox_group(i) for i in inbox_ids] + [user_group(user.pk)]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user_id": user.pk, "inbox_ids": inbox_ids})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
