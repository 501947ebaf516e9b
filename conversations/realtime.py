"""The one gateway for live events: everything that reaches a websocket goes through here.

Events are sent after the transaction commits, so a socket never announces a change that
was rolled back, and a client that hears of a change can read it over REST at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core import signing
from django.db import transaction

from conversations.event_schema import validate_event

logger = logging.getLogger(__name__)

TICKET_SALT = "realtime.ticket"
TICKET_MAX_AGE_SECONDS = 60

# The message type that consumers handle: ``{"type": DELIVERY_TYPE, "event": {...}}``.
DELIVERY_TYPE = "live.event"


def inbox_group(inbox_id: int) -> str:
    """Agents allowed to see the inbox's conversations."""
    return f"inbox.{inbox_id}"


def user_group(user_id: int) -> str:
    """One agent's own events (notifications, presence requests)."""
    return f"user.{user_id}"


def visitor_group(conversation_id: int) -> str:
    """The customer's side of a conversation (the web chat widget): never private notes."""
    return f"visitor.{conversation_id}"


_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("live_events_muted", default=False)


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """Send no live events inside the block: for bulk imports of history (demo data), which no one watches live."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted() -> bool:
    """Inside ``muted()``: history being imported, which nobody is to be told about (notifications ask too)."""
    return _muted.get()


def send_event_on_commit(event: dict[str, Any], *, groups: list[str]) -> None:
    """Queue ``event`` for the given groups, delivered once the current transaction commits."""
    if _muted.get():
        return
    if getattr(settings, "VALIDATE_LIVE_EVENTS", settings.DEBUG):
        validate_event(event)
    if not groups:
        return
    transaction.on_commit(lambda: _deliver(event, groups), robust=True)


def _deliver(event: dict[str, Any], groups: list[str]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": DELIVERY_TYPE, "event": event})
        except Exception:
            # The database is the record: a lost push is caught up by the client's resync.
            logger.exception("live event %s to %s was not delivered", event.get("type"), group)


def issue_ticket(user_id: int) -> str:
    """A short-lived signed ticket for the agents' websocket (``/ws/agent/?ticket=``)."""
    return signing.dumps({"user_id": user_id}, salt=TICKET_SALT)


def user_for_ticket(ticket: str) -> Any:
    """The active user a valid, unexpired ticket was issued to, or None."""
    from django.contrib.auth import get_user_model

    try:
        data = signing.loads(ticket, salt=TICKET_SALT, max_age=TICKET_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    user_id = data.get("user_id") if isinstance(data, dict) else None
    if not isinstance(user_id, int):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()
