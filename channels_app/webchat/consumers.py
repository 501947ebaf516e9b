"""The visitor's websocket: it checks the origin and the ticket, joins the visitor's group, and delivers.

It never writes to the database: visitors send messages over HTTP POST. The only thing it
relays is the visitor's typing indicator, an ephemeral event that goes through the one
gateway (``send_event_on_commit``) to the agents of the inbox.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from channels_app.webchat import visitors
from conversations.consumers import LiveEventConsumer
from conversations.models import ChannelKind, Conversation, Inbox
from conversations.realtime import inbox_group, send_event_on_commit, visitor_group

# Close codes the widget understands: 4401 get a new ticket (and catch up), 4403 give up.
CLOSE_BAD_TICKET = 4401
CLOSE_FORBIDDEN = 4403
# The visitor's "still typing" is relayed at most this often; a change of state always is.
TYPING_RELAY_SECONDS = 2.0


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _check(ticket: visitors.SocketTicket, origin: str) -> int | None:
    """The inbox id when the ticket's conversation is in an active web chat inbox that allows ``origin``."""
    inbox = Inbox.objects.filter(pk=ticket.inbox_id, kind=ChannelKind.WEBCHAT, is_active=True).first()
    if inbox is None or not visitors.origin_allowed(inbox, origin):
        return None
    if not Conversation.objects.filter(pk=ticket.conversation_id, inbox=inbox).exists():
        return None
    return inbox.pk


def _relay_typing(event: dict[str, Any], inbox_id: int) -> None:
    send_event_on_commit(event, groups=[inbox_group(inbox_id)])


class WidgetConsumer(LiveEventConsumer):
    conversation_id: int | None = None
    inbox_id: int | None = None

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        ticket = visitors.read_socket_ticket((query.get("ticket") or [""])[0])
        if ticket is None:
            await self.close(code=CLOSE_BAD_TICKET)
            return
        inbox_id = await database_sync_to_async(_check)(ticket, _header(self.scope, b"origin"))
        if inbox_id is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.inbox_id = inbox_id
        self.conversation_id = ticket.conversation_id
        self.sender_name = ticket.sender_name or "Visitor"
        self.typing_state: tuple[bool, float] = (False, 0.0)
        self.group = visitor_group(ticket.conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "conversation_id": ticket.conversation_id})

    async def disconnect(self, code: int) -> None:
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            if self.typing_state[0]:
                await self._typing(False)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "typing" and isinstance(content.get("is_typing"), bool):
            is_typing = content["is_typing"]
            was_typing, last_sent = self.typing_state
            if is_typing != was_typing or time.monotonic() - last_sent >= TYPING_RELAY_SECONDS:
                await self._typing(is_typing)

    async def _typing(self, is_typing: bool) -> None:
        assert self.conversation_id is not None and self.inbox_id is not None
        self.typing_state = (is_typing, time.monotonic())
        event = {
            "type": "typing",
            "conversation_id": self.conversation_id,
            "sender_kind": "contact",
            "sender_name": self.sender_name,
            "is_typing": is_typing,
        }
        await database_sync_to_async(_relay_typing)(event, self.inbox_id)

    async def live_event(self, message: dict[str, Any]) -> None:
        for text in message.get("texts") or ():
            await self._visitor_event(json.loads(text))

    async def _visitor_event(self, event: dict[str, Any]) -> None:
        """Forward only what a customer may see of their own conversation."""
        if event.get("type") == "message.created":
            payload = event.get("message") or {}
            if payload.get("is_private_note") is not False or payload.get("conversation_id") != self.conversation_id:
                return
            await self.send_json(
                {
                    "type": "message.created",
                    "message": {
                        "id": payload["id"],
                        "client_id": None,
                        "direction": payload["direction"],
                        "sender_kind": payload["sender_kind"],
                        "sender_name": payload["sender_name"],
                        "body": payload["body"],
                        "created_at": payload["created_at"],
                        "attachments": payload.get("attachments", []),
                    },
                }
            )
        elif (
            event.get("type") == "typing"
            and event.get("sender_kind") == "agent"
            and event.get("conversation_id") == self.conversation_id
        ):
            await self.send_json(
                {"type": "typing", "sender_name": event.get("sender_name", ""), "is_typing": bool(event["is_typing"])}
            )
