"""Real processes for the fault tests: a private Redis, daphne, Celery workers and beat.

Every child runs against the test run's own PostgreSQL database (the tests use
``transactional_db``, so what a child commits the test sees and the other way round) and a
Redis server started here on a free port, so stopping it never touches the machine's shared
one. Children carry a marker in their environment; whatever is left at the end is killed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.core.test_run_modes import (
    BIN,
    Child,
    child_env,
    free_port,
    kill_leftovers,
    processes_with_marker,
)
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
WAIT_SECONDS = 60.0


def wait_for(
    what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS, *, children: tuple[Child, ...] = ()
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # a service restarting: keep asking
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    logs = "\n".join(f"--- {c.process.args!r} ---\n{c.output()[-6000:]}" for c in children)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})\n{logs}")


class PrivateRedis:
    """A redis-server of our own, without persistence: stopping it loses what it held, like a crash."""

    def __init__(self, workdir: Path, marker: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.marker = marker
        self.child: Child | None = None

    def start(self) -> None:
        env = child_env(self.marker)
        self.child = Child(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            env,
            self.workdir / f"redis-{time.monotonic_ns()}.log",
        )
        wait_for("redis to answer", self.ping, 20, children=(self.child,))

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.child is not None:
            self.child.kill_group()
            self.child = None

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)


class Stack:
    """The product's processes (Procfile-like) against the test database and a private Redis."""

    def __init__(self, tmp_path: Path, redis: PrivateRedis, marker: str, **settings: str) -> None:
        self.tmp_path = tmp_path
        self.redis = redis
        self.marker = marker
        self.children: list[Child] = []
        db = connection.settings_dict
        database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        self.env = child_env(
            marker,
            DATABASE_URL=database_url,
            REDIS_URL=redis.url,
            SECRET_KEY=secrets.token_urlsafe(50),
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            PUBLIC_BASE_URL=PUBLIC_BASE_URL,
            SECURE_SSL_REDIRECT="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            INBOX_VAR_DIR=str(tmp_path),
            MEDIA_ROOT=str(tmp_path / "media"),
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            # Quick sweeps and short leases, so a lost or killed run is picked up within seconds.
            OUTBOX_SWEEP_SECONDS="1",
            OUTBOX_PUBLISH_GRACE_SECONDS="2",
            OUTBOX_LEASE_SECONDS="4",
            BEAT_LEASE_SECONDS="3",
            HEARTBEAT_INTERVAL_SECONDS="1",
            DB_CONN_MAX_AGE="60",
            LOG_LEVEL="INFO",
        )
        self.env.update(settings)

    def _start(self, name: str, args: list[str]) -> Child:
        child = Child(args, self.env, self.tmp_path / f"{name}-{len(self.children)}.log")
        self.children.append(child)
        return child

    def web(self) -> tuple[Child, str]:
        port = free_port()
        child = self._start(
            "web",
            [str(BIN / "daphne"), "--bind", "127.0.0.1", "--port", str(port), "inbox_project.asgi:application"],
        )
        base = f"http://127.0.0.1:{port}"
        import requests

        wait_for(
            "daphne to answer", lambda: requests.get(f"{base}/healthz/", timeout=2).status_code < 500, children=(child,)
        )
        return child, base

    def worker(self, *extra: str, concurrency: int = 1) -> Child:
        return self._start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "inbox_project",
                "worker",
                "--queues",
                "inbound,default",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"w{uuid.uuid4().hex[:6]}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
                *extra,
            ],
        )

    def beat(self) -> Child:
        return self._start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "inbox_project",
                "beat",
                "--schedule",
                str(self.tmp_path / f"beat-{uuid.uuid4().hex[:6]}"),
                "--loglevel",
                "INFO",
            ],
        )

    def logs(self) -> str:
        return "\n".join(f"--- {c.process.args!r} ---\n{c.output()[-6000:]}" for c in self.children)

    def stop_all(self) -> None:
        for child in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
        for child in self.children:
            child.kill_group()


@contextlib.contextmanager
def running_stack(tmp_path: Path, **settings: str) -> Iterator[Stack]:
    marker = uuid.uuid4().hex
    redis = PrivateRedis(tmp_path, marker)
    redis.start()
    stack = Stack(tmp_path, redis, marker, **settings)
    try:
        yield stack
    finally:
        stack.stop_all()
        redis.stop()
        deadline = time.monotonic() + 10
        while processes_with_marker(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        kill_leftovers(marker)
        # Children's database connections must be gone before pytest-django empties the tables.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
