"""One Redis connection pool per server for the whole process, whichever request or thread asks.

Django keeps a cache object per context (``caches`` is an asgiref ``Local``), and its Redis cache
makes a connection pool per cache object. Under daphne every request runs in a fresh context, so
every request that touched the cache (a customer's message kicks its drain through it, a login
counts its attempts) made a pool, opened a TCP connection to Redis, introduced itself (``HELLO``,
``CLIENT SETINFO``), used it once and left it for the garbage collector to close: about one new
Redis connection per webhook under bench.live. ``SharedConnectionPool`` hands every cache object
the process's pool for the same server and options. redis-py pools are thread-safe and start
afresh in a forked child (a Celery prefork worker), so sharing is safe.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

_pools: dict[tuple[str, str], redis.ConnectionPool] = {}
_lock = threading.Lock()


class SharedConnectionPool(redis.ConnectionPool):
    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        key = (url, repr(sorted(kwargs.items())))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = super().from_url(url, **kwargs)
            return pool


def redis_cache(url: str) -> dict[str, Any]:
    """The ``CACHES`` entry of a Redis cache at ``url`` whose connections the whole process shares."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"pool_class": "core.redis_pool.SharedConnectionPool"},
    }
