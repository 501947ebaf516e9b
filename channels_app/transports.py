"""Outbound delivery: one transport per channel kind, one error type for all of them.

A transport is called by the ``send_outbound_message`` task after the message is
committed as queued; it talks to the provider and says what happened. It never writes to
the database itself: the task records the result through the delivery-status service.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from conversations.models import Message


class TransportError(Exception):
    """A failed send. ``permanent`` says whether retrying could help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclasses.dataclass(frozen=True)
class SendResult:
    status: str  # "sent" or "delivered"
    channel_message_id: str | None = None


Transport = Callable[[Message], SendResult]

_TRANSPORTS: dict[str, Transport] = {}


def register(kind: str) -> Callable[[Transport], Transport]:
    def decorator(transport: Transport) -> Transport:
        _TRANSPORTS[kind] = transport
        return transport

    return decorator


def transport_for(kind: str) -> Transport:
    try:
        return _TRANSPORTS[kind]
    except KeyError:
        raise TransportError(f"Sending on {kind} inboxes is not available yet.", permanent=True) from None


@register("webchat")
def send_webchat(message: Message) -> SendResult:
    # The visitor's widget already received the message live through the event gateway;
    # the database is its record, and the widget reads its history from there on reconnect.
    return SendResult(status="delivered")
