"""The SLA sweeps cost O(due), not O(all): PostgreSQL's own plan, with 10k and then 200k conversations.

A sweep with nothing due must read its partial index and nothing else: the same handful of
buffers and zero rows whether the table holds ten thousand or two hundred thousand
conversations (a tenth of them with warnings and breaches pending in the future).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from conversations import reminders, sla
from conversations.models import Conversation, Reminder
from tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TABLE = Conversation._meta.db_table


def _grow_to(total: int) -> None:
    """Copy one real conversation until the table holds ``total`` rows; every tenth has SLA work pending later."""
    columns = [c.column for c in Conversation._meta.concrete_fields if c.column != "id"]
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(id) FROM {TABLE}")  # noqa: S608 (constant table name)
        count, template = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO {TABLE} ({names}) SELECT {names} FROM {TABLE}, generate_series(1, %s) WHERE id = %s",  # noqa: S608
            [total - count, template],
        )
        cursor.execute(
            f"UPDATE {TABLE} SET sla_warn_at = now() + (id % 97 + 1) * interval '1 hour', "  # noqa: S608
            "sla_breach_at = now() + (id % 97 + 2) * interval '1 hour' WHERE id % 10 = 0"
        )
        # VACUUM as autovacuum would: index entries left by rolled-back transactions (earlier tests)
        # would otherwise send the first scan to the heap to find them dead.
        cursor.execute(f"VACUUM ANALYZE {TABLE}")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _explain(queryset: QuerySet[Any]) -> dict[str, Any]:
    with transaction.atomic(), connection.cursor() as cursor:  # FOR UPDATE needs a transaction
        sql, params = queryset.query.get_compiler(using="default").as_sql()
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        raw = cursor.fetchone()[0]
    document = raw if isinstance(raw, list) else json.loads(raw)
    return dict(document[0]["Plan"])


def _sweep_query(due: Callable[[datetime], QuerySet[Any]], related: tuple[str, ...]) -> QuerySet[Any]:
    """Exactly what the sweep asks for (see ``sla._sweep``)."""
    return due(timezone.now()).select_for_update(skip_locked=True, of=("self",)).select_related(*related)[:200]


SWEEPS = {
    "sla-warnings": (sla.warnings_due, ("inbox", "contact", "team", "sla_policy"), "conv_sla_warn_idx"),
    "sla-breaches": (sla.breaches_due, ("inbox", "contact", "team", "sla_policy"), "conv_sla_breach_idx"),
}


@pytest.mark.slow  # builds a table of 200k conversations (about 20 seconds)
@pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside the test's transaction
def test_an_empty_sweep_reads_only_its_partial_index_at_any_table_size() -> None:
    f.ConversationFactory()
    reads: dict[tuple[str, int], int] = {}
    for total in (10_000, 200_000):
        _grow_to(total)
        for name, (due, related, index) in SWEEPS.items():
            plan = _explain(_sweep_query(due, related))
            scans = [n for n in _nodes(plan) if n.get("Relation Name") == TABLE]
            assert [n["Node Type"] for n in scans] == ["Index Scan"], json.dumps(plan, indent=1)
            assert scans[0]["Index Name"] == index
            assert scans[0]["Actual Rows"] == 0
            reads[name, total] = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    assert Conversation.objects.count() == 200_000
    print("buffers read by each empty sweep:", reads)
    # A handful of index pages (the root and one leaf), however big the table.
    assert all(count <= 4 for count in reads.values()), reads
    for name in SWEEPS:
        assert reads[name, 200_000] <= reads[name, 10_000] + 1, reads


def test_the_reminder_sweep_reads_its_partial_index() -> None:
    pending = f.ReminderFactory()  # due in an hour
    now = timezone.now()
    Reminder.objects.bulk_create(
        Reminder(conversation=pending.conversation, user=pending.user, remind_at=now, fired_at=now)
        for _ in range(20_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_reminder")
    query = reminders.reminders_due(timezone.now()).select_for_update(skip_locked=True, of=("self",))
    plan = _explain(query.select_related("conversation__contact")[:200])
    scans = [n for n in _nodes(plan) if n.get("Relation Name") == "conversations_reminder"]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [("Index Scan", "reminder_due_idx")]
