"""Emptying the conversation table (TRUNCATE) empties the search documents too.

The documents (migration 0008) are kept by row triggers, which TRUNCATE does not fire: Django's
flush (tests, ``manage.py flush``) left every document behind, for conversations that no longer
exist and, once ids are reused, under someone else's conversation.
"""

from django.db import migrations

from core.migration_sql import postgresql_only

FORWARD = r"""
CREATE OR REPLACE FUNCTION inbox_conversation_search_truncate() RETURNS trigger AS $$
BEGIN
    TRUNCATE conversations_conversationsearch;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS inbox_conversation_search_truncate_trg ON conversations_conversation;
CREATE TRIGGER inbox_conversation_search_truncate_trg
    AFTER TRUNCATE ON conversations_conversation
    FOR EACH STATEMENT EXECUTE FUNCTION inbox_conversation_search_truncate();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS inbox_conversation_search_truncate_trg ON conversations_conversation;
DROP FUNCTION IF EXISTS inbox_conversation_search_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0010_open_counts_per_statement"),
    ]

    operations = [
        migrations.RunPython(postgresql_only(FORWARD), postgresql_only(BACKWARD), elidable=False),
    ]
