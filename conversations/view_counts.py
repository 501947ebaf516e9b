"""The inbox views' maintained counters (OpenConversationCount): recount them, or compare them with a fresh count.

Triggers keep the counters right on every write (migration 0007); these are for the bulk loader,
which loads with the triggers off, and for an operator who wants to check or repair them.
"""

from __future__ import annotations

from django.db import connection, transaction

FRESH_COUNT = """
    SELECT inbox_id, coalesce(team_id, 0), coalesce(assignee_id, 0), status, handler,
           last_message_direction = 'in', priority = 4, count(*)
    FROM conversations_conversation WHERE status IN ('active', 'pending')
    GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
KEPT = """
    SELECT inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent, n
    FROM conversations_openconversationcount WHERE n <> 0
"""


def rebuild() -> None:
    """Recount from the conversations (PostgreSQL; concurrent changes wait, then apply on top)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT inbox_open_counts_rebuild()")


def differences() -> list[tuple[object, ...]]:
    """Rows where the counters and a fresh count disagree: (key..., kept, fresh)."""
    # One statement, so one snapshot for both counts: a change committed meanwhile is no false alarm.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT coalesce(k.key, f.key), coalesce(k.n, 0), coalesce(f.n, 0)
            FROM (SELECT ROW(inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent)::text
                         AS key, n FROM ({KEPT}) kept(inbox_id, team_key, assignee_key, status, handler,
                                                      customer_spoke_last, urgent, n)) k
            FULL JOIN (SELECT ROW(a, b, c, d, e, g, h)::text AS key, n
                       FROM ({FRESH_COUNT}) fresh(a, b, c, d, e, g, h, n)) f ON f.key = k.key
            WHERE coalesce(k.n, 0) <> coalesce(f.n, 0)
            """  # noqa: S608 (fixed text)
        )
        return [tuple(row) for row in cursor.fetchall()]
