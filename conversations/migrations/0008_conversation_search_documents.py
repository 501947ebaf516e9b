"""One search document per conversation, so a search is one GIN lookup or a walk of the list.

``conversations_conversationsearch`` holds, per conversation, the lexemes of all its messages, of
its contact's document (name and identities) and the token ``#<id>`` (its id), without positions
(``strip``): a word search asks one document per conversation instead of collecting matches among
every message and every contact. Phrases, and words that the parser splits into several lexemes,
use it as a filter and are then checked against the messages and the contact as before
(conversations/api/filters.py), so what a search finds is unchanged.

Triggers keep it current on every write path (like migration 0003): a new message adds its
lexemes; an edited, moved or deleted message, a conversation moved to another contact, or a
contact's changed document recomputes the documents concerned. Not a model: nothing in Python reads
or writes it. PostgreSQL only; the backfill is a few set-based statements per range of ids.
"""

from django.db import migrations

FORWARD = r"""
CREATE TABLE IF NOT EXISTS conversations_conversationsearch (
    conversation_id bigint PRIMARY KEY,
    document tsvector NOT NULL
);

DROP AGGREGATE IF EXISTS inbox_tsvector_agg(tsvector);
CREATE AGGREGATE inbox_tsvector_agg(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = '');

CREATE OR REPLACE FUNCTION inbox_conversation_document(cid bigint, contact bigint) RETURNS tsvector AS $$
    SELECT coalesce((SELECT inbox_tsvector_agg(strip(m.search_vector)) FROM conversations_message m
                     WHERE m.conversation_id = cid), ''::tsvector)
        || coalesce((SELECT strip(ct.search_vector) FROM conversations_contact ct WHERE ct.id = contact), ''::tsvector)
        || array_to_tsvector(ARRAY['#' || cid])
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION inbox_conversation_document_refresh(cid bigint) RETURNS void AS $$
    INSERT INTO conversations_conversationsearch AS s (conversation_id, document)
    SELECT c.id, inbox_conversation_document(c.id, c.contact_id) FROM conversations_conversation c WHERE c.id = cid
    ON CONFLICT (conversation_id) DO UPDATE SET document = EXCLUDED.document
$$ LANGUAGE sql;

CREATE OR REPLACE FUNCTION inbox_conversation_search_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM conversations_conversationsearch WHERE conversation_id = OLD.id;
    ELSE
        PERFORM inbox_conversation_document_refresh(NEW.id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_conversation_search_trg
    AFTER INSERT OR DELETE ON conversations_conversation
    FOR EACH ROW EXECUTE FUNCTION inbox_conversation_search_change();

-- (A save() writes every column: only a real change of contact costs a recomputation.)
CREATE TRIGGER inbox_conversation_search_contact_trg
    AFTER UPDATE OF contact_id ON conversations_conversation
    FOR EACH ROW WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id)
    EXECUTE FUNCTION inbox_conversation_search_change();

-- A new message only adds lexemes: concatenated, without re-reading the thread.
CREATE OR REPLACE FUNCTION inbox_message_search_added() RETURNS trigger AS $$
BEGIN
    UPDATE conversations_conversationsearch SET document = document || strip(NEW.search_vector)
    WHERE conversation_id = NEW.conversation_id;
    IF NOT FOUND THEN
        PERFORM inbox_conversation_document_refresh(NEW.conversation_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_message_search_added_trg
    AFTER INSERT ON conversations_message
    FOR EACH ROW EXECUTE FUNCTION inbox_message_search_added();

-- An edit or removal may take lexemes away: the documents concerned are recomputed.
CREATE OR REPLACE FUNCTION inbox_message_search_changed() RETURNS trigger AS $$
BEGIN
    PERFORM inbox_conversation_document_refresh(OLD.conversation_id);
    IF TG_OP = 'UPDATE' AND NEW.conversation_id <> OLD.conversation_id THEN
        PERFORM inbox_conversation_document_refresh(NEW.conversation_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_message_search_removed_trg
    AFTER DELETE ON conversations_message
    FOR EACH ROW EXECUTE FUNCTION inbox_message_search_changed();

CREATE TRIGGER inbox_message_search_changed_trg
    AFTER UPDATE OF subject, body, conversation_id ON conversations_message
    FOR EACH ROW WHEN (OLD.subject IS DISTINCT FROM NEW.subject OR OLD.body IS DISTINCT FROM NEW.body
                       OR OLD.conversation_id IS DISTINCT FROM NEW.conversation_id)
    EXECUTE FUNCTION inbox_message_search_changed();

-- A renamed contact, or one whose identities changed (migration 0003 recomputes its document).
CREATE OR REPLACE FUNCTION inbox_contact_search_changed() RETURNS trigger AS $$
BEGIN
    PERFORM inbox_conversation_document_refresh(c.id) FROM conversations_conversation c WHERE c.contact_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_contact_search_changed_trg
    AFTER UPDATE ON conversations_contact
    FOR EACH ROW WHEN (OLD.search_vector IS DISTINCT FROM NEW.search_vector)
    EXECUTE FUNCTION inbox_contact_search_changed();

-- Every document from scratch, for conversations whose id is in [low, high): the backfill and the
-- bulk loader (which loads with the per-row triggers paused), one set-based statement per range.
CREATE OR REPLACE FUNCTION inbox_conversation_documents_fill(low bigint, high bigint) RETURNS void AS $$
    INSERT INTO conversations_conversationsearch AS s (conversation_id, document)
    SELECT c.id, coalesce(m.document, ''::tsvector) || coalesce(strip(ct.search_vector), ''::tsvector)
                 || array_to_tsvector(ARRAY['#' || c.id])
    FROM conversations_conversation c
    JOIN conversations_contact ct ON ct.id = c.contact_id
    LEFT JOIN (SELECT conversation_id, inbox_tsvector_agg(strip(search_vector)) AS document
               FROM conversations_message WHERE conversation_id >= low AND conversation_id < high
               GROUP BY conversation_id) m ON m.conversation_id = c.id
    WHERE c.id >= low AND c.id < high
    ON CONFLICT (conversation_id) DO UPDATE SET document = EXCLUDED.document
$$ LANGUAGE sql;
"""

INDEX = "CREATE INDEX IF NOT EXISTS conversation_search_idx ON conversations_conversationsearch USING gin (document)"

BACKWARD = r"""
DROP TRIGGER IF EXISTS inbox_contact_search_changed_trg ON conversations_contact;
DROP TRIGGER IF EXISTS inbox_message_search_changed_trg ON conversations_message;
DROP TRIGGER IF EXISTS inbox_message_search_removed_trg ON conversations_message;
DROP TRIGGER IF EXISTS inbox_conversation_search_contact_trg ON conversations_conversation;
DROP TRIGGER IF EXISTS inbox_message_search_added_trg ON conversations_message;
DROP TRIGGER IF EXISTS inbox_conversation_search_trg ON conversations_conversation;
DROP FUNCTION IF EXISTS inbox_conversation_documents_fill(bigint, bigint);
DROP FUNCTION IF EXISTS inbox_contact_search_changed();
DROP FUNCTION IF EXISTS inbox_message_search_changed();
DROP FUNCTION IF EXISTS inbox_message_search_added();
DROP FUNCTION IF EXISTS inbox_conversation_search_change();
DROP FUNCTION IF EXISTS inbox_conversation_document_refresh(bigint);
DROP FUNCTION IF EXISTS inbox_conversation_document(bigint, bigint);
DROP AGGREGATE IF EXISTS inbox_tsvector_agg(tsvector);
DROP TABLE IF EXISTS conversations_conversationsearch;
"""

# Conversations per backfill statement: each reads its range's messages through the thread index.
FILL_BATCH = 50_000


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FORWARD)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM conversations_conversation")
        highest = cursor.fetchone()[0]
        for low in range(1, highest + 1, FILL_BATCH):
            cursor.execute("SELECT inbox_conversation_documents_fill(%s, %s)", [low, low + FILL_BATCH])
    schema_editor.execute(INDEX)
    schema_editor.execute("ANALYZE conversations_conversationsearch")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("conversations", "0007_open_conversation_counts")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
