"""The agents' websocket: it authenticates, joins the groups the agent may see, and delivers.

It never writes to the database; agents act through the REST API. Besides delivering, it relays
two ephemeral signals from the agent's page, after checking she may see the conversation: that
she is typing, and which conversation she has open (who else is viewing it). Both go through the
one gateway; the viewers of a conversation are kept in the cache (shared by all server processes
in production), never in the database.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations.models import ChannelKind, Conversation
from conversations.realtime import (
    DELIVERY_TYPE,
    inbox_group,
    presence_group,
    send_event_on_commit,
    user_for_ticket,
    user_group,
    visitor_group,
)
from conversations.selectors import inbox_ids_visible_to
from conversations.ui import connections, viewers
from core import frames

# An agent's "still typing" is relayed at most this often; a change of state always is.
TYPING_RELAY_SECONDS = 2.0


def _agent_name(user: Any) -> str:
    profile = getattr(user, "agent_profile", None)
    return str(profile.name) if profile is not None else str(user.get_full_name() or user.get_username())


def _conversation_place(conversation_id: int, inbox_ids: list[int]) -> tuple[int, str] | None:
    """(inbox id, channel kind) of a conversation in one of ``inbox_ids``; None for any other."""
    row = (
        Conversation.objects.filter(pk=conversation_id, inbox_id__in=inbox_ids)
        .values_list("inbox_id", "inbox__kind")
        .first()
    )
    return (int(row[0]), str(row[1])) if row else None


def _presence(user: Any, *, connected: bool, opening: bool) -> None:
    """Count the socket; when it is the agent's first or last, tell her inboxes she came or went."""
    changed = connections.opened(user.pk) if opening else connections.closed(user.pk)
    if not changed:
        return
    from conversations.models import AgentProfile

    profile = AgentProfile.objects.filter(user=user).first()
    if profile is None:
        return
    event = {
        "type": "presence",
        "user_id": user.pk,
        "name": profile.name,
        "availability": profile.availability,
        "connected": connected,
    }
    send_event_on_commit(event, groups=[presence_group(i) for i in inbox_ids_visible_to(user)])


def _relay(event: dict[str, Any], groups: list[str]) -> None:
    send_event_on_commit(event, groups=groups)


def _conversation_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class LiveEventConsumer(AsyncJsonWebsocketConsumer):
    """A socket that forwards live events (``DELIVERY_TYPE``) without a trip through Django's sync thread.

    Channels runs ``close_old_connections`` in the sync thread (``thread_sensitive``: the one
    thread that also runs every sync view of the process) before each message it dispatches.
    Forwarding an event reads no database, and with 200 agents connected that was one hop per
    socket per event, queued with the webhooks (bench.live, py-spy on a daphne: a fifth of the
    event loop's time, and seconds of delay at a few webhooks a second). Other messages (the
    socket's own frames, connect and disconnect) still go through channels' dispatch.
    """

    # The socket's user id as the delivery messages' ``personal`` key (realtime.Personal); None: none are hers.
    personal_key: str | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == DELIVERY_TYPE:
            await self.live_event(message)
            return
        await super().dispatch(message)

    async def live_event(self, message: dict[str, Any]) -> None:
        # Encoded once by the sender (realtime.delivery_message); one frame per event, written
        # together, so the server adds the socket to its writers once for all of them. Under
        # daphne framed once per server, not once per socket (core/frames.py).
        own = self._own_texts(message)
        if self._write_frames(message, own):
            return
        for text in [*message["texts"], *own]:
            await self.send(text_data=text)

    def _own_texts(self, message: dict[str, Any]) -> list[str]:
        """The message's events for this socket's user alone (realtime.Personal)."""
        personal = message.get("personal")
        if not personal or self.personal_key is None:
            return []
        return list(personal.get(self.personal_key, ()))

    @functools.cached_property
    def _frame_writer(self) -> frames.FrameWriter | None:
        return frames.frame_writer(self.scope)

    def _write_frames(self, message: dict[str, Any], own: list[str]) -> bool:
        """Write the message as frames framed once per server (core/frames.py); False: not served so."""
        return self._frame_writer is not None and self._frame_writer(message, own)

    def take_live_events_directly(self) -> None:
        """Have the channel layer hand this socket its live events as they arrive (core/pubsub_layer.py).

        They skip channels' receive loop and the consumer's queue. Under daphne the handler writes
        them at once, framed once per server (core/frames.py); elsewhere one task per event and
        socket sends them. Call once the socket is accepted and has said hello; a layer without
        the fast path (the in-memory one) leaves everything as it was.
        """
        register = getattr(self.channel_layer, "deliver_directly", None)
        if register is None:
            return
        self._sending: set[asyncio.Task[None]] = set()
        register(self.channel_name, self._take_live_event)

    def _take_live_event(self, message: dict[str, Any]) -> bool:
        if message.get("type") != DELIVERY_TYPE:
            return False  # anything else goes through the consumer's dispatch, as before
        if self._write_frames(message, self._own_texts(message)):
            return True  # written at once: nothing to wait for
        task = asyncio.get_running_loop().create_task(self.live_event(message))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return True

    def stop_taking_live_events_directly(self) -> None:
        register = getattr(self.channel_layer, "deliver_directly", None)
        if register is not None and getattr(self, "channel_name", None):
            register(self.channel_name, None)


class AgentConsumer(LiveEventConsumer):
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        # Who comes and goes is for pages that show it (the inbox asks with ?presence=1), not for every client.
        self.wants_presence = query.get("presence", [""])[0] == "1"
        if user is None or not user.is_authenticated:
            # Clients that cannot send the session cookie present a short-lived ticket instead.
            ticket = query.get("ticket", [""])[0]
            user = await database_sync_to_async(user_for_ticket)(ticket) if ticket else None
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        inbox_ids = await database_sync_to_async(inbox_ids_visible_to)(user)
        self.user = user
        self.personal_key = str(user.pk)
        self.user_name = await database_sync_to_async(_agent_name)(user)
        self.inbox_ids = inbox_ids
        self.places: dict[int, tuple[int, str] | None] = {}
        self.typing: dict[int, tuple[bool, float]] = {}
        self.viewing: int | None = None
        self.joined = [inbox_group(i) for i in inbox_ids] + [user_group(user.pk)]
        if self.wants_presence:
            self.joined += [presence_group(i) for i in inbox_ids]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user_id": user.pk, "inbox_ids": inbox_ids})
        self.take_live_events_directly()
        await database_sync_to_async(_presence)(user, connected=True, opening=True)

    async def disconnect(self, code: int) -> None:
        self.stop_taking_live_events_directly()
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "joined", None):
            await database_sync_to_async(_presence)(self.user, connected=False, opening=False)
        if getattr(self, "viewing", None) is not None:
            await self._view(None)
        for conversation_id, (is_typing, _) in list(getattr(self, "typing", {}).items()):
            if is_typing:
                await self._typing(conversation_id, False, private=True)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "ping":
            await database_sync_to_async(connections.still_here)(self.user.pk)
            await self.send_json({"type": "pong"})
        elif kind == "typing" and isinstance(content.get("is_typing"), bool):
            conversation_id = _conversation_id(content.get("conversation_id"))
            if conversation_id is None:
                return
            is_typing = content["is_typing"]
            was_typing, last_sent = self.typing.get(conversation_id, (False, 0.0))
            if is_typing != was_typing or time.monotonic() - last_sent >= TYPING_RELAY_SECONDS:
                await self._typing(conversation_id, is_typing, private=content.get("private") is True)
        elif kind == "viewing":
            raw = content.get("conversation_id")
            conversation_id = _conversation_id(raw)
            if raw is not None and conversation_id is None:
                return
            await self._view(conversation_id)

    async def _place(self, conversation_id: int) -> tuple[int, str] | None:
        if conversation_id not in self.places:
            self.places[conversation_id] = await database_sync_to_async(_conversation_place)(
                conversation_id, self.inbox_ids
            )
        return self.places[conversation_id]

    async def _typing(self, conversation_id: int, is_typing: bool, *, private: bool) -> None:
        place = await self._place(conversation_id)
        if place is None:
            return
        inbox_id, kind = place
        self.typing[conversation_id] = (is_typing, time.monotonic())
        event = {
            "type": "typing",
            "conversation_id": conversation_id,
            "sender_kind": "agent",
            "sender_name": self.user_name,
            "user_id": self.user.pk,
            "is_typing": is_typing,
        }
        groups = [inbox_group(inbox_id)]
        # Typing a private note is no business of the customer's.
        if kind == ChannelKind.WEBCHAT and not private:
            groups.append(visitor_group(conversation_id))
        await database_sync_to_async(_relay)(event, groups)

    async def _view(self, conversation_id: int | None) -> None:
        """Leave the conversation viewed until now, open ``conversation_id`` (or none); tell both inboxes."""
        previous = self.viewing
        if conversation_id is not None and await self._place(conversation_id) is None:
            conversation_id = None
        self.viewing = conversation_id
        if previous is not None and previous != conversation_id:
            place = await self._place(previous)
            current = await database_sync_to_async(viewers.leave)(previous, self.user.pk)
            if place is not None:
                await database_sync_to_async(_relay)(viewers.event(previous, current), [inbox_group(place[0])])
        if conversation_id is not None:
            place = await self._place(conversation_id)
            current = await database_sync_to_async(viewers.join)(conversation_id, self.user.pk, self.user_name)
            if place is not None:
                await database_sync_to_async(_relay)(viewers.event(conversation_id, current), [inbox_group(place[0])])
