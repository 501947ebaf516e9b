"""Who has a conversation open: kept in the cache (Redis in production, shared by every server process).

Ephemeral by design: each entry expires unless the agent's page repeats that she is still viewing
(it does every VIEWING_HEARTBEAT_SECONDS), so a crashed browser or server leaves no ghost viewer.
Nothing here touches the database.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

VIEWING_HEARTBEAT_SECONDS = 25
VIEWER_TTL_SECONDS = 60


def _key(conversation_id: int) -> str:
    return f"inbox-ui:viewers:{conversation_id}"


def _current(conversation_id: int, now: float) -> dict[str, list[Any]]:
    stored = cache.get(_key(conversation_id)) or {}
    return {uid: entry for uid, entry in stored.items() if entry[1] > now}


def _store(conversation_id: int, entries: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if entries:
        cache.set(_key(conversation_id), entries, VIEWER_TTL_SECONDS)
    else:
        cache.delete(_key(conversation_id))
    return sorted(({"user_id": int(uid), "name": entry[0]} for uid, entry in entries.items()), key=lambda v: v["name"])


def join(conversation_id: int, user_id: int, name: str) -> list[dict[str, Any]]:
    """Record (or refresh) that the user is viewing; return everyone viewing it now."""
    now = time.time()
    entries = _current(conversation_id, now)
    entries[str(user_id)] = [name, now + VIEWER_TTL_SECONDS]
    return _store(conversation_id, entries)


def leave(conversation_id: int, user_id: int) -> list[dict[str, Any]]:
    entries = _current(conversation_id, time.time())
    entries.pop(str(user_id), None)
    return _store(conversation_id, entries)


def event(conversation_id: int, current: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "conversation.viewers", "conversation_id": conversation_id, "viewers": current}
