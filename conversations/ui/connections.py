"""Which agents have the inbox open right now: a count of open sockets per agent, in the cache.

Shared by every server process in production (Redis). A count, not a flag, because an agent may
have several tabs open. Each count expires unless her pages keep pinging (every 25 s), so a
server that dies without closing its sockets leaves no agent "connected" for long. Nothing here
touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache

CONNECTION_TTL_SECONDS = 90


def _key(user_id: int) -> str:
    return f"inbox-ui:connections:{user_id}"


def opened(user_id: int) -> bool:
    """Count a new socket; True when it is the agent's first (she just came online in the inbox)."""
    key = _key(user_id)
    cache.add(key, 0, CONNECTION_TTL_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, CONNECTION_TTL_SECONDS)
        count = 1
    cache.touch(key, CONNECTION_TTL_SECONDS)
    return int(count) == 1


def closed(user_id: int) -> bool:
    """Count a closed socket; True when it was the agent's last."""
    key = _key(user_id)
    try:
        count = cache.decr(key)
    except ValueError:
        return True
    if int(count) <= 0:
        cache.delete(key)
        return True
    return False


def still_here(user_id: int) -> None:
    if not cache.touch(_key(user_id), CONNECTION_TTL_SECONDS):
        cache.set(_key(user_id), 1, CONNECTION_TTL_SECONDS)


def connected_user_ids(user_ids: Iterable[int]) -> set[int]:
    ids = list(user_ids)
    found = cache.get_many([_key(i) for i in ids])
    return {i for i in ids if int(found.get(_key(i)) or 0) > 0}
