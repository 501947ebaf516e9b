"""Counters in the shared cache that keep counting in the process when the cache is down.

Login and widget rate limits, and the count of a task's unfinished runs (core/outbox.py), live in
the default cache (Redis in production), so every process sees the same counts. Redis being
unreachable must not turn a login, a customer's message or a task into an error: each call then
falls back to a counter local to this process (a limit still holds per process, at worst the number
of processes times looser), and the outage is logged, at most once a minute per process.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisError, ConnectionError, TimeoutError)
_local = LocMemCache("core-counters-fallback", {"OPTIONS": {"MAX_ENTRIES": 20_000}})
_warned_at = 0.0


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    global _warned_at
    try:
        return getattr(cache, name)(*args, **kwargs)
    except UNREACHABLE as exc:
        if time.monotonic() - _warned_at > 60:
            _warned_at = time.monotonic()
            logger.error(
                "counters (rate limits, task runs) count in this process only: the shared cache is unreachable (%s)",
                exc,
            )
        return getattr(_local, name)(*args, **kwargs)


def hit(key: str, timeout: int) -> int:
    """Count one hit on ``key`` (which expires ``timeout`` seconds after its first hit); the count so far."""
    _call("add", key, 0, timeout=timeout)
    try:
        return int(_call("incr", key))  # atomic in Redis: concurrent hits are all counted
    except ValueError:  # expired between add and incr
        _call("set", key, 1, timeout=timeout)
        return 1


def get(key: str) -> Any:
    return _call("get", key)


def add(key: str, value: Any, timeout: int) -> None:
    _call("add", key, value, timeout=timeout)


def forget(*keys: str) -> None:
    _call("delete_many", list(keys))
