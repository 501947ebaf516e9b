"""The open-conversation counters (0007) change at commit instead of at each write.

Every new conversation of an inbox adds one to the same counter row (its inbox and team,
unassigned, active), and a trigger that fires at the INSERT holds that row's lock until the
transaction ends: the customer's webhook kept it while it stored the message, the events and the
search document, and routing in the worker kept it while it chose an agent. Concurrent webhooks
of the inbox waited for each other there (bench.live, py-spy on a web server: 58% of a new
conversation's webhook was the conversation's INSERT waiting in PostgreSQL). Deferred to the
commit, the same triggers take the lock for the commit alone. They run once per change as before,
with the row values of that change, so the sums are unchanged; a recount (``LOCK TABLE``) still
serializes with them, since a commit's bumps wait for its lock.
"""

from django.db import migrations

TRIGGERS_AT_COMMIT = r"""
DROP TRIGGER IF EXISTS inbox_open_count_insert_delete_trg ON conversations_conversation;
DROP TRIGGER IF EXISTS inbox_open_count_update_trg ON conversations_conversation;

CREATE CONSTRAINT TRIGGER inbox_open_count_insert_delete_trg
    AFTER INSERT OR DELETE ON conversations_conversation
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION inbox_open_count_change();

CREATE CONSTRAINT TRIGGER inbox_open_count_update_trg
    AFTER UPDATE ON conversations_conversation
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.inbox_id IS DISTINCT FROM NEW.inbox_id
          OR OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
          OR OLD.handler IS DISTINCT FROM NEW.handler
          OR OLD.last_message_direction IS DISTINCT FROM NEW.last_message_direction
          OR OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION inbox_open_count_change();
"""

TRIGGERS_AT_WRITE = r"""
DROP TRIGGER IF EXISTS inbox_open_count_insert_delete_trg ON conversations_conversation;
DROP TRIGGER IF EXISTS inbox_open_count_update_trg ON conversations_conversation;

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


def _run(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0009_list_sort_indexes"),
    ]

    operations = [
        migrations.RunPython(_run(TRIGGERS_AT_COMMIT), _run(TRIGGERS_AT_WRITE), elidable=False),
    ]
