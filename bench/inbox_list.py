"""Inbox list, search and counts: p95 at 10k conversations (the baseline) and at 1M (the figure).

Every request goes through the whole Django stack in-process (URL routing, middleware, session
authentication, filters, keyset pagination, serialization of a 25-row page), as an agent who
answers two inboxes and as a supervisor who sees everything. Each view is asked ``REPEAT`` times
after a warm-up; the figure of a group is the p95 over all its requests.

Targets (issue #10): main views and filters p95 under 50 ms at 1M and at most 1.5x the 10k p95;
search p95 under 150 ms at 10M messages; the views' counts without counting whole tables.

    python -m bench.inbox_list            # both data sets, the result lines
    python -m bench.inbox_list --measure inbox_bench   # one data set, JSON samples (used by the above)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.common import (
    LARGE_DB,
    SMALL_DB,
    Figure,
    bench_env,
    database_exists,
    percentile,
    report,
    run_child,
    setup_django,
    skip,
    timed,
)

REPEAT = 20
VIEW_TARGET_MS = 50.0
VIEW_RATIO = 1.5
SEARCH_TARGET_MS = 150.0
COUNTS_TARGET_MS = 50.0
OPEN = "status=active,pending"


def _cases(agent: Any, team_id: int, order_token: str, phone: str, name: str) -> dict[str, list[tuple[str, str]]]:
    """(who, query string) per group; ``who`` is agent or supervisor."""
    return {
        "views": [
            ("agent", OPEN),
            ("agent", f"assignee=me&{OPEN}"),
            ("agent", f"assignee=none&{OPEN}"),
            ("agent", f"team={team_id}&{OPEN}"),
            ("agent", f"channel=sms&{OPEN}"),
            ("agent", f"handler=bot&{OPEN}"),
            ("agent", f"{OPEN}&sort=priority"),
            ("agent", "status=pending&sort=oldest"),
            ("agent", "status=resolved"),
            ("agent", "tag=refund"),
            ("supervisor", ""),
            ("supervisor", OPEN),
            ("supervisor", f"assignee=none&{OPEN}&sort=oldest"),
            ("supervisor", "priority=urgent,high&status=active,pending"),
            ("supervisor", f"team={team_id}&{OPEN}&sort=assignment"),
        ],
        "search": [
            ("agent", "q=refund"),
            ("agent", f'q="{order_token}"'),
            ("agent", f"q=phone:{phone}"),
            ("agent", f'q="{name}"'),
            ("agent", "q=refund status:pending channel:email"),
            ("agent", "q=E204 assigned:me"),
            ("supervisor", "q=bluetooth disconnecting"),
            ("supervisor", 'q="tap-to-pay" tag:refund'),
        ],
        "counts": [("agent", "counts"), ("supervisor", "counts")],
    }


def measure(database: str, repeat: int) -> dict[str, Any]:
    setup_django(database, ALLOWED_HOSTS="testserver,127.0.0.1")
    from urllib.parse import quote

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from bench.datagen import AGENT, SUPERVISOR
    from conversations.models import Conversation, Team

    User = get_user_model()
    agent = User.objects.get(username=AGENT)
    supervisor = User.objects.get(username=SUPERVISOR)
    team_id = (
        Team.objects.filter(agents__user=agent).values_list("pk", flat=True).first()
        or Team.objects.order_by("pk").values_list("pk", flat=True)[0]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT substring(body from '#[0-9]+') FROM conversations_message "
            "WHERE body LIKE '%%order #%%' AND inbox_id IN (SELECT inbox_id FROM conversations_inbox_members "
            "WHERE user_id = %s) ORDER BY id LIMIT 1 OFFSET 100",
            [agent.pk],
        )
        row = cursor.fetchone()
        order_token = row[0] if row else "#1234567"
        cursor.execute(
            "SELECT ci.value, c.name FROM conversations_channelidentity ci "
            "JOIN conversations_contact c ON c.id = ci.contact_id WHERE ci.kind = 'phone' ORDER BY ci.id "
            "LIMIT 1 OFFSET 500"
        )
        phone, name = cursor.fetchone() or ("+14152000001", "Ana Silva")
    clients = {}
    for who, user in (("agent", agent), ("supervisor", supervisor)):
        client = Client()
        client.force_login(user)
        clients[who] = client

    # As a web server does once its application is built (inbox_project/asgi.py): what is loaded
    # now stays out of the garbage collector's full passes.
    from core.collector import settle

    settle()
    results: dict[str, Any] = {"scale": Conversation.objects.order_by("-pk").values_list("pk", flat=True).first()}
    for group, cases in _cases(agent, team_id, order_token, phone, name).items():
        group_results = []
        for who, query in cases:
            if query == "counts":
                url = "/api/v1/conversations/counts/"
            else:
                parts = [p.split("=", 1) for p in query.split("&") if p]
                url = "/api/v1/conversations/?" + "&".join(f"{k}={quote(v)}" for k, v in parts)
            client = clients[who]

            def get(url: str = url, client: Any = client) -> None:
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code} {response.content[:300]!r}")

            samples = timed(get, repeat=repeat, warmup=3)
            group_results.append({"who": who, "query": query, "samples": samples})
        results[group] = group_results
    return results


def _worst(cases: list[dict[str, Any]]) -> tuple[float, str]:
    p95s = [(percentile(case["samples"], 95), f"{case['who']} {case['query'] or '(all)'}") for case in cases]
    return max(p95s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure", metavar="DATABASE")
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--verbose", action="store_true", help="Also print every view's p95.")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0

    for database in (SMALL_DB, LARGE_DB):
        if not database_exists(database):
            skip("inbox_list", f"no database {database}: run make bench-data first")
            return 0
    env = bench_env(SMALL_DB)
    small = run_child("bench.inbox_list", "--measure", SMALL_DB, "--repeat", str(args.repeat), env=env)
    large = run_child("bench.inbox_list", "--measure", LARGE_DB, "--repeat", str(args.repeat), env=env)
    label = f"{small['scale']} conversations"
    at = f"{large['scale']} conversations"
    if args.verbose:
        for group in ("views", "search", "counts"):
            for s, g in zip(small[group], large[group], strict=True):
                print(
                    f"  {group} {g['who']} {g['query'] or '(all)'}: p95 {percentile(g['samples'], 95):.1f} ms "
                    f"(10k: {percentile(s['samples'], 95):.1f} ms)"
                )

    # Views: the p95 over every request of every view, and the slowest single view.
    small_all = [x for case in small["views"] for x in case["samples"]]
    large_all = [x for case in large["views"] for x in case["samples"]]
    value, base = percentile(large_all, 95), percentile(small_all, 95)
    report(
        Figure(
            f"inbox_list.views p95 at {at}",
            value,
            "ms",
            base,
            label,
            target=f"ratio <= {VIEW_RATIO} and < {VIEW_TARGET_MS:.0f} ms",
            ok=value / base <= VIEW_RATIO and value < VIEW_TARGET_MS,
        )
    )
    worst, which = _worst(large["views"])
    worst_small = next(
        percentile(s["samples"], 95)
        for s, g in zip(small["views"], large["views"], strict=True)
        if f"{g['who']} {g['query'] or '(all)'}" == which
    )
    report(
        Figure(
            "inbox_list.slowest_view p95",
            worst,
            "ms",
            worst_small,
            label,
            target=f"ratio <= {VIEW_RATIO} and < {VIEW_TARGET_MS:.0f} ms",
            ok=worst / worst_small <= VIEW_RATIO and worst < VIEW_TARGET_MS,
            note=which,
        )
    )
    small_search = [x for case in small["search"] for x in case["samples"]]
    large_search = [x for case in large["search"] for x in case["samples"]]
    value, base = percentile(large_search, 95), percentile(small_search, 95)
    report(
        Figure(
            f"inbox_list.search p95 at {at}",
            value,
            "ms",
            base,
            label,
            target=f"< {SEARCH_TARGET_MS:.0f} ms",
            ok=value < SEARCH_TARGET_MS,
        )
    )
    worst, which = _worst(large["search"])
    report(
        Figure(
            "inbox_list.slowest_search p95",
            worst,
            "ms",
            target=f"< {SEARCH_TARGET_MS:.0f} ms",
            ok=worst < SEARCH_TARGET_MS,
            note=which,
        )
    )
    small_counts = [x for case in small["counts"] for x in case["samples"]]
    large_counts = [x for case in large["counts"] for x in case["samples"]]
    value, base = percentile(large_counts, 95), percentile(small_counts, 95)
    report(
        Figure(
            f"inbox_list.counts p95 at {at}",
            value,
            "ms",
            base,
            label,
            target=f"ratio <= {VIEW_RATIO} and < {COUNTS_TARGET_MS:.0f} ms",
            ok=value / base <= VIEW_RATIO and value < COUNTS_TARGET_MS,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
