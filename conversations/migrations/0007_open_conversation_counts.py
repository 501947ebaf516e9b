"""The inbox views' counts as counters kept by triggers (conversations.models.OpenConversationCount).

Counting the open conversations on each request read every one of them (84k rows at a million
conversations). The counters change in the same transaction as the conversation, whoever writes it.
"""

import django.db.models.deletion
from django.db import migrations, models

from core.migration_sql import postgresql_only


# The counters' key of a conversation row, as a row of the counts table (id and n zero, so two keys
# compare equal exactly when they count in the same row).
FORWARD = r"""
CREATE OR REPLACE FUNCTION inbox_open_count_key(
    inbox bigint, team bigint, assignee bigint, status varchar, handler varchar, direction varchar, priority integer
) RETURNS conversations_openconversationcount AS $$
    SELECT ROW(0, coalesce(team, 0), coalesce(assignee, 0), status, handler, direction = 'in', priority = 4, 0,
               inbox)::conversations_openconversationcount
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION inbox_open_count_bump(k conversations_openconversationcount, delta integer)
RETURNS void AS $$
    INSERT INTO conversations_openconversationcount AS c
        (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent, n)
    VALUES (k.inbox_id, k.team_key, k.assignee_key, k.status, k.handler, k.customer_spoke_last, k.urgent, delta)
    ON CONFLICT (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent)
    DO UPDATE SET n = c.n + EXCLUDED.n
$$ LANGUAGE sql;

-- A conversation that enters, leaves or moves within the open ones moves one unit between two
-- rows. Two transactions moving conversations in opposite directions between the same two rows
-- would deadlock if each locked its rows in its own order: both rows are always taken in key order.
CREATE OR REPLACE FUNCTION inbox_open_count_change() RETURNS trigger AS $$
DECLARE
    old_key conversations_openconversationcount;
    new_key conversations_openconversationcount;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ('active', 'pending') THEN
        old_key := inbox_open_count_key(OLD.inbox_id, OLD.team_id, OLD.assignee_id, OLD.status, OLD.handler,
                                        OLD.last_message_direction, OLD.priority);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ('active', 'pending') THEN
        new_key := inbox_open_count_key(NEW.inbox_id, NEW.team_id, NEW.assignee_id, NEW.status, NEW.handler,
                                        NEW.last_message_direction, NEW.priority);
    END IF;
    IF old_key.id IS NOT NULL AND new_key.id IS NOT NULL THEN
        IF old_key = new_key THEN
            RETURN NULL;
        ELSIF old_key < new_key THEN
            PERFORM inbox_open_count_bump(old_key, -1);
            PERFORM inbox_open_count_bump(new_key, 1);
        ELSE
            PERFORM inbox_open_count_bump(new_key, 1);
            PERFORM inbox_open_count_bump(old_key, -1);
        END IF;
    ELSIF old_key.id IS NOT NULL THEN
        PERFORM inbox_open_count_bump(old_key, -1);
    ELSIF new_key.id IS NOT NULL THEN
        PERFORM inbox_open_count_bump(new_key, 1);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_open_count_insert_delete_trg
    AFTER INSERT OR DELETE ON conversations_conversation
    FOR EACH ROW EXECUTE FUNCTION inbox_open_count_change();

-- Most updates (a new message's time and preview, SLA bookkeeping) change nothing counted: the
-- WHEN clause skips them without calling the function.
CREATE TRIGGER inbox_open_count_update_trg
    AFTER UPDATE ON conversations_conversation
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.inbox_id IS DISTINCT FROM NEW.inbox_id
          OR OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
          OR OLD.handler IS DISTINCT FROM NEW.handler
          OR OLD.last_message_direction IS DISTINCT FROM NEW.last_message_direction
          OR OLD.priority IS DISTINCT FROM NEW.priority)
    EXECUTE FUNCTION inbox_open_count_change();

-- Recount from the conversations (the bulk loader and manage.py rebuild_view_counts). The table
-- lock makes concurrent changes wait for the recount, then apply their own unit on top of it.
CREATE OR REPLACE FUNCTION inbox_open_counts_rebuild() RETURNS void AS $$
BEGIN
    LOCK TABLE conversations_openconversationcount IN EXCLUSIVE MODE;
    DELETE FROM conversations_openconversationcount;
    INSERT INTO conversations_openconversationcount
        (inbox_id, team_key, assignee_key, status, handler, customer_spoke_last, urgent, n)
    SELECT inbox_id, coalesce(team_id, 0), coalesce(assignee_id, 0), status, handler,
           last_message_direction = 'in', priority = 4, count(*)
    FROM conversations_conversation
    WHERE status IN ('active', 'pending')
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
END
$$ LANGUAGE plpgsql;

SELECT inbox_open_counts_rebuild();

-- "Needs review" counts open conversations past an SLA due time live (time passes without a
-- write): this index holds only open, non-urgent conversations that have a due time, by the
-- earliest one still running, so the count reads the overdue ones and nothing else.
CREATE INDEX IF NOT EXISTS conv_open_overdue_idx ON conversations_conversation (
    (LEAST(CASE WHEN first_response_at IS NULL THEN first_response_due_at END, next_response_due_at,
           resolution_due_at))
) WHERE status IN ('active', 'pending') AND priority <> 4;
"""

BACKWARD = r"""
DROP INDEX IF EXISTS conv_open_overdue_idx;
DROP TRIGGER IF EXISTS inbox_open_count_update_trg ON conversations_conversation;
DROP TRIGGER IF EXISTS inbox_open_count_insert_delete_trg ON conversations_conversation;
DROP FUNCTION IF EXISTS inbox_open_counts_rebuild();
DROP FUNCTION IF EXISTS inbox_open_count_change();
DROP FUNCTION IF EXISTS inbox_open_count_bump(conversations_openconversationcount, integer);
DROP FUNCTION IF EXISTS inbox_open_count_key(bigint, bigint, bigint, varchar, varchar, varchar, integer);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0006_perf_open_conversation_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='OpenConversationCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('team_key', models.BigIntegerField(help_text="The team's id, 0 without a team.")),
                ('assignee_key', models.BigIntegerField(help_text="The assignee's id, 0 when unassigned.")),
                ('status', models.CharField(choices=[('active', 'Active'), ('pending', 'Pending'), ('resolved', 'Resolved'), ('archived', 'Archived')], max_length=10)),
                ('handler', models.CharField(choices=[('bot', 'Assistant'), ('human', 'Human')], max_length=5)),
                ('customer_spoke_last', models.BooleanField(help_text="The last message is the customer's.")),
                ('urgent', models.BooleanField()),
                ('n', models.IntegerField(default=0)),
                ('inbox', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='conversations.inbox')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('inbox', 'team_key', 'assignee_key', 'status', 'handler', 'customer_spoke_last', 'urgent'), name='open_count_key')],
            },
        ),
        migrations.RunPython(postgresql_only(FORWARD), postgresql_only(BACKWARD), elidable=False),
    ]
