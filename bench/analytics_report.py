"""Benchmark (not a test): the dashboard's 90-day report over 1M conversations, answered from rollups.

    .venv/bin/python -m bench.analytics_report

It uses its own PostgreSQL database (``BENCH_ANALYTICS_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/inbox_bench_analytics``), creating and migrating it on the
first run and filling it with the daily rollups that 1,000,000 conversations over 90 days
produce: 8 inboxes (all channels), 4 teams, 60 agents, every agent working in four inboxes, so
about 270 rollup rows a day (what ``rebuild_analytics`` would write for such a history; the
rollups, not the events, are what the report reads). Later runs reuse them. Then it times
``analytics.selectors.report`` for the last 90 days (what the dashboard and API compute: every
metric for the period and per day, the backlog, per agent, per channel) against a trivial query
on the same connection, and prints one line (bench/common.py's format) with the median of 7 runs.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import date, timedelta

CONVERSATIONS = 1_000_000
DAYS = 90
INBOXES = 8
TEAMS = 4
AGENTS = 60
RUNS = 7
TARGET_MS = 200.0
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/inbox_bench_analytics"
CHANNELS = ("webchat", "sms", "whatsapp", "email", "voice", "api", "webchat", "email")


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox_project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _rows(today: date) -> list[tuple[object, ...]]:
    """Rollup rows whose ``new`` add up to CONVERSATIONS over DAYS days (deterministic)."""
    rng = random.Random(90)
    per_day = CONVERSATIONS // DAYS
    agent_team = {agent: 1 + agent % TEAMS for agent in range(1, AGENTS + 1)}
    agent_inboxes = {agent: [1 + (agent + step) % INBOXES for step in (0, 2, 4, 6)] for agent in agent_team}
    rows: list[tuple[object, ...]] = []
    for offset in range(DAYS):
        day = today - timedelta(days=DAYS - 1 - offset)
        new_left = per_day + (CONVERSATIONS - per_day * DAYS if offset == DAYS - 1 else 0)
        cells = [(inbox, team) for inbox in range(1, INBOXES + 1) for team in range(1, TEAMS + 1)]
        for index, (inbox, team) in enumerate(cells):
            # Facts of no agent: new conversations, the assistant's work, the backlog.
            new = new_left // (len(cells) - index)
            new_left -= new
            started = int(new * 0.7)
            rows.append(
                (day, inbox, CHANNELS[inbox - 1], team, None, new, started, int(started * 0.6), int(started * 0.3),
                 int(new * 0.05), new + int(new * 0.05), new) + (0,) * 17
            )  # fmt: skip
        for agent, team in agent_team.items():
            for inbox in agent_inboxes[agent]:
                handled = rng.randint(40, 90)
                firsts, nexts, resolved = handled, rng.randint(60, 200), int(handled * rng.uniform(0.8, 1.0))
                ratings = int(resolved * 0.3)
                rows.append(
                    (day, inbox, CHANNELS[inbox - 1], team, agent, 0, 0, 0, 0, 0, 0, 0, handled,
                     firsts, firsts * rng.uniform(60, 1800), firsts * rng.uniform(30, 900),
                     nexts, nexts * rng.uniform(60, 900), nexts * rng.uniform(30, 600),
                     resolved, resolved * rng.uniform(1800, 86400), resolved * rng.uniform(900, 30000),
                     resolved * rng.randint(4, 9), resolved * rng.uniform(600, 7200),
                     firsts + nexts + resolved, int((firsts + nexts + resolved) * rng.uniform(0.7, 0.98)),
                     ratings, ratings * rng.randint(3, 5), int(ratings * 0.8))
                )  # fmt: skip
    return rows


def _fill(today: date) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.db.models import Count, Max, Min, Sum

    from analytics.models import DailyRollup
    from analytics.selectors import SUM_FIELDS
    from conversations.models import Inbox, Team

    columns = ["day", "inbox_id", "channel", "team_id", "agent_id", *SUM_FIELDS]

    rows = _rows(today)
    stats = DailyRollup.objects.aggregate(new=Sum("new"), first=Min("day"), last=Max("day"), rows=Count("id"))
    if (stats["new"], stats["rows"], stats["first"], stats["last"]) == (
        CONVERSATIONS,
        len(rows),
        today - timedelta(DAYS - 1),
        today,
    ):
        return  # reuse the rollups of an earlier run
    print(f"building rollups for {CONVERSATIONS:,} conversations over {DAYS} days ...", file=sys.stderr)
    with transaction.atomic():
        DailyRollup.objects.all().delete()
        for number in range(1, TEAMS + 1):
            Team.objects.update_or_create(pk=number, defaults={"name": f"Bench team {number}"})
        for number in range(1, INBOXES + 1):
            Inbox.objects.update_or_create(
                pk=number, defaults={"name": f"Bench inbox {number}", "kind": CHANNELS[number - 1]}
            )
        users = get_user_model()
        for number in range(1, AGENTS + 1):
            users.objects.update_or_create(
                pk=number, defaults={"username": f"bench-agent-{number}", "first_name": f"Agent {number}"}
            )
        with connection.cursor() as cursor:
            table = DailyRollup._meta.db_table
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"ANALYZE {table}")
    print(f"{len(rows):,} rollup rows written", file=sys.stderr)


def _median_ms(function: object, runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main() -> int:
    url = os.environ.get("BENCH_ANALYTICS_DATABASE_URL", DEFAULT_URL)
    _ensure_database(url)
    _setup_django(url)
    from django.db import connection
    from django.utils import timezone

    from analytics import selectors
    from bench.common import Figure
    from bench.common import report as report_figure

    today = timezone.localdate()
    _fill(today)
    filters = selectors.Filters(start=today - timedelta(days=DAYS - 1), end=today)

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def report() -> None:
        result = selectors.report(filters)
        assert result["metrics"]["new_conversations"] == CONVERSATIONS, result["metrics"]["new_conversations"]

    report()  # warm up: connection, caches, plans
    baseline_ms = _median_ms(baseline, RUNS * 3)
    report_ms = _median_ms(report, RUNS)
    report_figure(
        Figure(
            f"analytics.report_90d at {CONVERSATIONS:,} conversations",
            report_ms,
            "ms",
            baseline_ms,
            "SELECT 1 on the same connection",
            target=f"< {TARGET_MS:.0f} ms",
            ok=report_ms < TARGET_MS,
        )
    )
    return 0 if report_ms < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
