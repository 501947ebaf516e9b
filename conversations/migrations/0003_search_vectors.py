"""Full-text search documents for the inbox search, on PostgreSQL only.

A ``search_vector`` tsvector column with a GIN index on messages (subject and body) and on
contacts (name and every identity value: phone numbers, email addresses, ids), kept current by
triggers, so every write path (services, admin, bulk imports, raw SQL) stays searchable without
remembering to. The columns are deliberately not model fields: nothing in Python reads or writes
them; conversations/api/filters.py queries them.

The 'simple' text-search configuration: customers write in many languages, and the documents are
mostly names, phone numbers, email addresses and short messages. 'english' would stem and drop
stop words ("Will" the name, "no" in "order no 123"), and mangle other languages; 'simple' only
lower-cases, keeps e-mail addresses and +E.164 numbers as whole tokens, and matches what was typed.
On SQLite the search falls back to icontains and this migration does nothing.
"""

from django.db import migrations

from core.migration_sql import postgresql_only

FORWARD = r"""
ALTER TABLE conversations_message ADD COLUMN IF NOT EXISTS search_vector tsvector;
ALTER TABLE conversations_contact ADD COLUMN IF NOT EXISTS search_vector tsvector;

CREATE OR REPLACE FUNCTION inbox_message_search_vector() RETURNS trigger AS $$
BEGIN
    NEW.search_vector := to_tsvector('simple', coalesce(NEW.subject, '') || ' ' || coalesce(NEW.body, ''));
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_message_search_vector_trg
    BEFORE INSERT OR UPDATE OF subject, body ON conversations_message
    FOR EACH ROW EXECUTE FUNCTION inbox_message_search_vector();

CREATE OR REPLACE FUNCTION inbox_contact_document(cid bigint, cname text) RETURNS tsvector AS $$
    SELECT to_tsvector('simple', coalesce(cname, '') || ' ' || coalesce(
        (SELECT string_agg(value, ' ') FROM conversations_channelidentity WHERE contact_id = cid), ''))
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION inbox_contact_search_vector() RETURNS trigger AS $$
BEGIN
    NEW.search_vector := inbox_contact_document(NEW.id, NEW.name);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_contact_search_vector_trg
    BEFORE INSERT OR UPDATE OF name ON conversations_contact
    FOR EACH ROW EXECUTE FUNCTION inbox_contact_search_vector();

CREATE OR REPLACE FUNCTION inbox_identity_search_vector() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE conversations_contact SET search_vector = inbox_contact_document(id, name) WHERE id = OLD.contact_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE conversations_contact SET search_vector = inbox_contact_document(id, name) WHERE id = NEW.contact_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_identity_search_vector_trg
    AFTER INSERT OR UPDATE OR DELETE ON conversations_channelidentity
    FOR EACH ROW EXECUTE FUNCTION inbox_identity_search_vector();

UPDATE conversations_message SET search_vector =
    to_tsvector('simple', coalesce(subject, '') || ' ' || coalesce(body, ''));
UPDATE conversations_contact SET search_vector = inbox_contact_document(id, name);

CREATE INDEX IF NOT EXISTS message_search_idx ON conversations_message USING gin (search_vector);
CREATE INDEX IF NOT EXISTS contact_search_idx ON conversations_contact USING gin (search_vector);
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS inbox_identity_search_vector_trg ON conversations_channelidentity;
DROP TRIGGER IF EXISTS inbox_contact_search_vector_trg ON conversations_contact;
DROP TRIGGER IF EXISTS inbox_message_search_vector_trg ON conversations_message;
DROP FUNCTION IF EXISTS inbox_identity_search_vector();
DROP FUNCTION IF EXISTS inbox_contact_search_vector();
DROP FUNCTION IF EXISTS inbox_contact_document(bigint, text);
DROP FUNCTION IF EXISTS inbox_message_search_vector();
DROP INDEX IF EXISTS contact_search_idx;
DROP INDEX IF EXISTS message_search_idx;
ALTER TABLE conversations_contact DROP COLUMN IF EXISTS search_vector;
ALTER TABLE conversations_message DROP COLUMN IF EXISTS search_vector;
"""


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_webhook_delivery")]

    operations = [migrations.RunPython(postgresql_only(FORWARD), postgresql_only(BACKWARD), elidable=False)]
