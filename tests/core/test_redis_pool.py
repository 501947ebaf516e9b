"""The Redis cache's connections are the process's, not each request's (core/redis_pool.py)."""

from __future__ import annotations

import contextvars
import os
import threading

import pytest
import redis
from django.core.cache import CacheHandler

from core.redis_pool import redis_cache

pytestmark = pytest.mark.redis


def connections_opened(url: str) -> int:
    return int(redis.Redis.from_url(url).info("stats")["total_connections_received"])


def test_requests_in_fresh_contexts_and_threads_share_one_connection() -> None:
    url = os.environ["TEST_REDIS_URL"]
    caches = CacheHandler({"default": redis_cache(url)})
    seen = []

    def request(index: int) -> None:
        # What daphne does per request: a context of its own, so caches["default"] is a new cache object.
        cache = caches["default"]
        seen.append(id(cache))
        cache.add(f"redis-pool-test:{index}", 1, 5)

    before = connections_opened(url)
    for index in range(20):
        contextvars.Context().run(request, index)
    thread = threading.Thread(target=lambda: contextvars.Context().run(request, 20))
    thread.start()
    thread.join(5)
    opened = connections_opened(url) - before - 1  # less the one that counted
    assert len(set(seen)) > 1  # many cache objects, as under daphne
    assert opened <= 1, f"{opened} connections for 21 requests"


def test_another_server_or_database_has_its_own_pool() -> None:
    url = os.environ["TEST_REDIS_URL"]
    base, _, number = url.rpartition("/")
    other = f"{base}/{(int(number) + 1) % 16}"
    first = CacheHandler({"default": redis_cache(url)})["default"]
    second = CacheHandler({"default": redis_cache(other)})["default"]
    first.set("redis-pool-test:where", "first", 5)
    second.set("redis-pool-test:where", "second", 5)
    assert (first.get("redis-pool-test:where"), second.get("redis-pool-test:where")) == ("first", "second")
