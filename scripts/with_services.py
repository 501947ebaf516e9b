"""Run a command (the test suite) with the machine's PostgreSQL and Redis when they are there.

Without them the suite still runs, on SQLite, and the tests that need them are skipped and
say so. With REQUIRE_SERVICES=1 (set by .ci/run) a missing service is an error instead.
"""

from __future__ import annotations

import os
import sys

# A database name per run, so that several runs on one machine never share pytest's test database.
PG_URL = os.environ.get("TEST_POSTGRES_URL", f"postgres://postgres@127.0.0.1:5432/inbox_run{os.getpid()}")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def postgres_ok(url: str) -> str | None:
    import psycopg

    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def redis_ok(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: with_services.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    required = os.environ.get("REQUIRE_SERVICES", "") in ("1", "true", "yes")
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
    problems = []
    pg_error = postgres_ok(PG_URL)
    if pg_error is None:
        env["DATABASE_URL"] = PG_URL
        env["TEST_POSTGRES_URL"] = PG_URL
        print(f"services: PostgreSQL at {PG_URL.rsplit('@', 1)[-1]}", file=sys.stderr)
    else:
        env.pop("DATABASE_URL", None)
        env.pop("TEST_POSTGRES_URL", None)
        problems.append(f"PostgreSQL unreachable ({pg_error})")
    redis_error = redis_ok(REDIS_URL)
    if redis_error is None:
        env["TEST_REDIS_URL"] = REDIS_URL
        print(f"services: Redis at {REDIS_URL.rsplit('@', 1)[-1]}", file=sys.stderr)
    else:
        env.pop("TEST_REDIS_URL", None)
        problems.append(f"Redis unreachable ({redis_error})")
    # Unit tests use the in-process channel layer and broker; tests that need Redis ask for it.
    env.pop("REDIS_URL", None)
    if problems:
        if required:
            print("services required but missing: " + "; ".join(problems), file=sys.stderr)
            return 1
        print(
            "services: " + "; ".join(problems) + " -- running on SQLite; tests that need them are SKIPPED",
            file=sys.stderr,
        )
    os.execvpe(sys.argv[1], sys.argv[1:], env)  # noqa: S606  (runs the given test command)


if __name__ == "__main__":
    sys.exit(main())
