"""Where the rest of the product hears of the assistant's handoffs.

``on_handoff(conversation_id)`` runs after the handoff has committed. Routing (rules,
assignment) and notifications register a listener with :func:`handoff_listener`; a failing
listener is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

HandoffListener = Callable[[int], None]
_listeners: list[HandoffListener] = []


def handoff_listener(listener: HandoffListener) -> HandoffListener:
    """Register ``listener(conversation_id)`` to run after each assistant handoff (usable as a decorator)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def remove_handoff_listener(listener: HandoffListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def on_handoff(conversation_id: int) -> None:
    for listener in list(_listeners):
        try:
            listener(conversation_id)
        except Exception:
            logger.exception("handoff listener %r failed for conversation %s", listener, conversation_id)
