"""Building conversations by hand, at given times, through the real services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import time_machine

from conversations import services
from conversations.models import Status


@contextmanager
def at(when: str) -> Iterator[None]:
    with time_machine.travel(datetime.fromisoformat(when).replace(tzinfo=UTC), tick=False):
        yield


def customer(inbox: Any, text: str, *, phone: str = "+15551230001") -> Any:
    return services.message_receive_inbound(inbox=inbox, identity_kind="phone", identity_value=phone, body=text).message


def reply(conversation: Any, agent: Any, text: str = "On it.") -> Any:
    return services.message_send_reply(conversation=conversation, author=agent, body=text)


def resolve(conversation: Any, agent: Any) -> Any:
    return services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
