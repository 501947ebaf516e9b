"""``manage.py bench_data`` makes a database the services could have written: checked with SQL afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS, MESSAGES, CONTACTS = 300, 2400, 60


def _url(name: str) -> str:
    server = os.environ.get("TEST_POSTGRES_URL") or os.environ["DATABASE_URL"]
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def bench_db() -> Iterator[object]:
    import psycopg

    name = f"inbox_bench_test_{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_"))}
    env.update(DATABASE_URL=_url("postgres"), SECRET_KEY="bench-data-test-secret-key-" + "z" * 30, DEBUG="false")
    result = subprocess.run(
        [sys.executable, "manage.py", "bench_data", "--database-name", name, "--conversations", str(CONVERSATIONS),
         "--messages", str(MESSAGES), "--contacts", str(CONTACTS)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        with psycopg.connect(_url(name)) as conn:
            yield conn
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _one(conn: object, sql: str) -> object:
    row = conn.execute(sql).fetchone()
    return row[0] if row else None


pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_sizes_asked_for_are_made(bench_db: object) -> None:
    assert _one(bench_db, "SELECT count(*) FROM conversations_conversation") == CONVERSATIONS
    assert _one(bench_db, "SELECT count(*) FROM conversations_message") == MESSAGES
    assert _one(bench_db, "SELECT count(*) FROM conversations_contact") == CONTACTS


def test_denormalized_last_message_fields_agree_with_the_messages(bench_db: object) -> None:
    disagreeing = _one(
        bench_db,
        """
        SELECT count(*) FROM conversations_conversation c
        JOIN LATERAL (
            SELECT m.created_at, m.body, m.direction, m.sender_kind FROM conversations_message m
            WHERE m.conversation_id = c.id AND NOT m.is_private_note ORDER BY m.created_at DESC, m.id DESC LIMIT 1
        ) last ON true
        WHERE c.last_message_at <> last.created_at OR c.last_message_preview <> left(btrim(last.body), 200)
           OR c.last_message_direction <> last.direction OR c.last_message_sender_kind <> last.sender_kind
           OR c.message_count <> (SELECT count(*) FROM conversations_message m
                                  WHERE m.conversation_id = c.id AND NOT m.is_private_note)
           OR c.last_inbound_at IS DISTINCT FROM (SELECT max(created_at) FROM conversations_message m
                                                  WHERE m.conversation_id = c.id AND m.direction = 'in')
           OR c.first_response_at IS DISTINCT FROM (SELECT min(created_at) FROM conversations_message m
                                                    WHERE m.conversation_id = c.id AND m.direction = 'out')
        """,
    )
    assert disagreeing == 0


def test_every_message_and_change_has_its_event(bench_db: object) -> None:
    assert (
        _one(
            bench_db,
            """SELECT count(*) FROM conversations_message m WHERE NOT EXISTS (
               SELECT 1 FROM conversations_conversationevent e WHERE e.message_id = m.id
               AND e.kind = CASE m.direction WHEN 'in' THEN 'message_in' ELSE 'message_out' END)""",
        )
        == 0
    )
    created = _one(bench_db, "SELECT count(*) FROM conversations_conversationevent WHERE kind = 'created'")
    assert created == CONVERSATIONS
    # Every conversation's current status is the destination of its last status event (or active, never moved).
    assert (
        _one(
            bench_db,
            """SELECT count(*) FROM conversations_conversation c WHERE c.status <> coalesce((
               SELECT e.data->>'to' FROM conversations_conversationevent e
               WHERE e.conversation_id = c.id AND e.kind = 'status' ORDER BY e.created_at DESC, e.id DESC LIMIT 1),
               'active')""",
        )
        == 0
    )


def test_messages_and_contacts_are_searchable_as_the_triggers_make_them(bench_db: object) -> None:
    assert _one(bench_db, "SELECT count(*) FROM conversations_message WHERE search_vector IS NULL") == 0
    phone = _one(bench_db, "SELECT value FROM conversations_channelidentity WHERE kind = 'phone' LIMIT 1")
    found = bench_db.execute(
        "SELECT count(*) FROM conversations_contact WHERE search_vector @@ plainto_tsquery('simple', %s)", [phone]
    ).fetchone()[0]
    assert found == 1


def test_view_counters_equal_a_fresh_count(bench_db: object) -> None:
    from conversations.view_counts import FRESH_COUNT, KEPT

    kept = {tuple(row[:-1]): row[-1] for row in bench_db.execute(KEPT)}
    fresh = {tuple(row[:-1]): row[-1] for row in bench_db.execute(FRESH_COUNT)}
    assert kept == fresh and sum(fresh.values()) > 0
    triggers = _one(
        bench_db,
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'conversations_conversation'::regclass "
        "AND tgname LIKE 'inbox_open_count%' AND tgenabled = 'O'",
    )
    assert triggers == 3  # back on after the load


def test_every_conversation_has_its_search_document(bench_db: object) -> None:
    # As the triggers would have made it, message by message: the same as one computed afresh.
    assert (
        _one(
            bench_db,
            """SELECT count(*) FROM conversations_conversation c
               LEFT JOIN conversations_conversationsearch s ON s.conversation_id = c.id
               WHERE s.document IS DISTINCT FROM inbox_conversation_document(c.id, c.contact_id)""",
        )
        == 0
    )
    assert _one(bench_db, "SELECT count(*) FROM conversations_conversationsearch") == CONVERSATIONS
    indexes = {
        row[0]
        for row in bench_db.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'conversations_conversationsearch'"
        )
    }
    assert "conversation_search_idx" in indexes
    paused = _one(
        bench_db,
        "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'inbox_%' AND NOT tgisinternal AND tgenabled <> 'O'",
    )
    assert paused == 0


def test_nothing_is_due_for_the_status_timers(bench_db: object) -> None:
    # The data is as if the timers had been running: no active conversation idle past its inbox's
    # timeout, no resolved one past the archive delay, no snooze already over.
    assert (
        _one(
            bench_db,
            """SELECT count(*) FROM conversations_conversation c JOIN conversations_inbox i ON i.id = c.inbox_id
           WHERE (c.status = 'active' AND c.last_message_at < now() - make_interval(mins => i.pending_after_minutes))
              OR (c.status = 'resolved' AND c.resolved_at < now() - make_interval(days => i.archive_after_days))
              OR (c.snoozed_until IS NOT NULL AND c.snoozed_until <= now())""",
        )
        == 0
    )


def test_indexes_and_foreign_keys_dropped_for_the_load_are_back(bench_db: object) -> None:
    indexes = {
        row[0]
        for row in bench_db.execute(
            "SELECT indexname FROM pg_indexes "
            "WHERE tablename IN ('conversations_message', 'conversations_conversation')"
        )
    }
    assert {"message_search_idx", "message_thread_idx", "message_unique_channel_id_per_inbox"} <= indexes
    assert {"conv_status_recent_idx", "conv_active_idle_idx", "conv_inbox_status_idx"} <= indexes
    foreign_keys = _one(
        bench_db,
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'conversations_message'::regclass",
    )
    assert foreign_keys == 4  # conversation, inbox, sender user, sender contact
