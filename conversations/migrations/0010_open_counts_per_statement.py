"""The open-conversation counters (0007) change once per statement, not once per row.

Every conversation of a statement that counts in the same row (the same inbox, team, assignee,
status...) bumped that row again: PostgreSQL keeps every version of a row updated inside a running
transaction, and each bump walked all the earlier ones, so a statement writing N conversations of
one inbox took time in N squared (200k copied conversations ran for more than ten minutes). The
triggers now see the statement's rows at once (transition tables), add up the changes per counter
row, and write each counter row once, in key order (two transactions never take two counter rows
in opposite orders, so they cannot deadlock on them).
"""

from django.db import migrations

from core.migration_sql import postgresql_only

# The counter key of a conversation row (as conversations.view_counts and the rebuild compute it).
_KEY = (
    "inbox_id, coalesce(team_id, 0), coalesce(assignee_id, 0), status, handler, "
    "last_message_direction = 'in', priority = 4"
)

PER_STATEMENT = rf"""
DROP TRIGGER IF EXISTS inbox_open_count_insert_delete_trg ON conversations_conversation;
DROP TRIGGER IF EXISTS inbox_open_count_update_trg ON conversations_conversation;

CREATE OR REPLACE FUNCTION inbox_open_count_apply() RETURNS trigger AS $$
BEGIN
    -- Each branch reads only the transition tables its event has.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO conversations_openconversationcount AS c
            (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent, n)
        SELECT {_KEY}, count(*) FROM added WHERE status IN ('active', 'pending')
        GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent)
        DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO conversations_openconversationcount AS c
            (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent, n)
        SELECT {_KEY}, -count(*) FROM removed WHERE status IN ('active', 'pending')
        GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent)
        DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        -- Most updates (a message's time and preview, SLA bookkeeping) move nothing: their -1 and
        -- +1 cancel out and no counter row is touched.
        INSERT INTO conversations_openconversationcount AS c
            (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent, n)
        SELECT k1, k2, k3, k4, k5, k6, k7, sum(delta) FROM (
            SELECT {_KEY}, -1 FROM old_rows WHERE status IN ('active', 'pending')
            UNION ALL
            SELECT {_KEY}, 1 FROM new_rows WHERE status IN ('active', 'pending')
        ) AS moves (k1, k2, k3, k4, k5, k6, k7, delta)
        GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent)
        DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_open_count_insert_trg
    AFTER INSERT ON conversations_conversation REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION inbox_open_count_apply();
CREATE TRIGGER inbox_open_count_update_trg
    AFTER UPDATE ON conversations_conversation REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inbox_open_count_apply();
CREATE TRIGGER inbox_open_count_delete_trg
    AFTER DELETE ON conversations_conversation REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION inbox_open_count_apply();
"""

PER_ROW = r"""
DROP TRIGGER IF EXISTS inbox_open_count_insert_trg ON conversations_conversation;
DROP TRIGGER IF EXISTS inbox_open_count_update_trg ON conversations_conversation;
DROP TRIGGER IF EXISTS inbox_open_count_delete_trg ON conversations_conversation;
DROP FUNCTION IF EXISTS inbox_open_count_apply();

CREATE TRIGGER inbox_open_count_insert_delete_trg
    AFTER INSERT OR DELETE ON conversations_conversation
    FOR EACH ROW EXECUTE FUNCTION inbox_open_count_change();

CREATE TRIGGER inbox_open_count_update_trg
    AFTER UPDATE ON conversations_conversation
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.inbox_id IS DISTINCT FROM NEW.inbox_id
          OR OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
          OR OLD.handler IS DISTINCT FROM NEW.handler
          OR OLD.last_message_direction IS DISTINCT FROM NEW.last_message_direction
          OR OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION inbox_open_count_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0009_list_sort_indexes"),
    ]

    operations = [
        migrations.RunPython(postgresql_only(PER_STATEMENT), postgresql_only(PER_ROW), elidable=False),
    ]
