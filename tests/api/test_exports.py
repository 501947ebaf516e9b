"""Exports: one conversation's history as JSON, CSV and text; the filtered list as streamed CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.db.models.signals import post_init
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from conversations.api import exports
from conversations.models import Conversation, Status
from tests import factories as f


def _client(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def history(conversation: Any, agent: Any) -> list[Any]:
    """A customer's formula-looking question, the assistant, a private note and an agent's reply."""
    contact = conversation.contact
    return [
        f.MessageFactory(conversation=conversation, body="=SUM(A1:A9) why was I charged twice?"),
        f.MessageFactory(
            conversation=conversation, direction="out", sender_kind="assistant", body="Let me check.", confidence=0.4
        ),
        f.MessageFactory(
            conversation=conversation,
            direction="out",
            sender_kind="agent",
            sender_user=agent,
            is_private_note=True,
            body="Refund approved by finance",
        ),
        f.MessageFactory(
            conversation=conversation, direction="out", sender_kind="agent", sender_user=agent, body="Refunded!"
        ),
        f.MessageFactory(conversation=conversation, sender_contact=contact, body="Thanks"),
    ]


def _export(user: Any, conversation: Any, query: str = "") -> Any:
    return _client(user).get(f"/api/v1/conversations/{conversation.pk}/export/{query}")


# --- One conversation ---------------------------------------------------------------------------


def test_json_export_has_the_whole_history_with_notes_marked(agent: Any, conversation: Any, history: Any) -> None:
    f.ConversationEventFactory(conversation=conversation, kind="created")
    response = _export(agent, conversation, "?format=json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{conversation.pk}.json"'
    assert response["Content-Type"].startswith("application/json")
    document = json.loads(response.content)
    assert document["conversation"]["id"] == conversation.pk
    assert document["conversation"]["contact"]["name"] == "Carol Customer"
    assert [m["id"] for m in document["messages"]] == [m.pk for m in history]
    note = document["messages"][2]
    assert (note["private_note"], note["sender_name"], note["body"]) == (
        True,
        "Alice Agent",
        "Refund approved by finance",
    )
    assert [m["private_note"] for m in document["messages"]] == [False, False, True, False, False]
    assert document["messages"][1]["confidence"] == 0.4
    assert document["messages"][0]["channel"] == "webchat"
    assert [e["kind"] for e in document["events"]] == ["created"]


def test_json_is_the_default_format(agent: Any, conversation: Any, history: Any) -> None:
    response = _export(agent, conversation)
    assert response.status_code == 200
    assert len(json.loads(response.content)["messages"]) == len(history)


def test_csv_export_marks_notes_and_neutralizes_formulas(agent: Any, conversation: Any, history: Any) -> None:
    response = _export(agent, conversation, "?format=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{conversation.pk}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["message_id"]) for r in rows] == [m.pk for m in history]
    assert rows[0]["body"] == "'=SUM(A1:A9) why was I charged twice?"
    assert [r["private_note"] for r in rows] == ["", "", "yes", "", ""]
    assert rows[3]["sender_name"] == "Alice Agent"


def test_text_export_reads_as_a_transcript(agent: Any, conversation: Any, history: Any) -> None:
    response = _export(agent, conversation, "?format=txt")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{conversation.pk}.txt"'
    text = response.content.decode()
    assert text.startswith(f"Conversation #{conversation.pk} with Carol Customer")
    assert "PRIVATE NOTE by Alice Agent (not seen by the customer)\nRefund approved by finance" in text
    assert "Alice Agent (agent, webchat)\nRefunded!" in text
    assert text.index("why was I charged twice") < text.index("Refunded!") < text.index("Thanks")


def test_notes_can_be_left_out_for_a_customer_transcript(agent: Any, conversation: Any, history: Any) -> None:
    for file_format in ("json", "csv", "txt"):
        content = _export(agent, conversation, f"?format={file_format}&notes=0").content.decode()
        assert "Refund approved by finance" not in content
        assert "Refunded!" in content


def test_teammate_and_supervisor_can_export(teammate: Any, supervisor: Any, conversation: Any, history: Any) -> None:
    assert _export(teammate, conversation).status_code == 200
    assert _export(supervisor, conversation).status_code == 200


def test_unknown_format_is_a_400_that_names_the_choices(agent: Any, conversation: Any) -> None:
    response = _export(agent, conversation, "?format=xlsx")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "format: Use one of json, csv, txt."


def test_someone_elses_conversation_is_404(outsider: Any, conversation: Any, history: Any) -> None:
    for file_format in ("json", "csv", "txt"):
        response = _export(outsider, conversation, f"?format={file_format}")
        assert response.status_code == 404
        assert "Refund" not in response.content.decode()


@pytest.mark.parametrize("pk", ["999999", "abc"])
def test_missing_conversation_is_404(agent: Any, pk: str) -> None:
    assert _client(agent).get(f"/api/v1/conversations/{pk}/export/").status_code == 404


def test_anonymous_cannot_export(conversation: Any) -> None:
    assert _export(None, conversation).status_code in (401, 403)
    assert _client(None).get("/api/v1/conversations/export.csv").status_code in (401, 403)


# --- The list, streamed -------------------------------------------------------------------------


def _csv_rows(response: Any) -> list[dict[str, str]]:
    content = b"".join(
        chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in response.streaming_content
    ).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_list_export_has_the_conversations_the_user_may_see(
    agent: Any, inbox: Any, outsider: Any, conversation: Any
) -> None:
    hidden = f.ConversationFactory(inbox=outsider.inboxes.get())
    resolved = f.ConversationFactory(inbox=inbox, status=Status.RESOLVED, subject="Invoice", assignee=agent)
    resolved.tags.add(f.TagFactory(name="billing"), f.TagFactory(name="vip"))

    response = _client(agent).get("/api/v1/conversations/export.csv")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="conversations-')
    rows = _csv_rows(response)
    assert {int(r["id"]) for r in rows} == {conversation.pk, resolved.pk}
    assert hidden.pk not in {int(r["id"]) for r in rows}
    row = next(r for r in rows if int(r["id"]) == resolved.pk)
    assert (row["status"], row["subject"], row["assignee"], row["tags"]) == (
        "resolved",
        "Invoice",
        "Alice Agent",
        "billing, vip",
    )
    assert (row["channel"], row["priority"]) == ("webchat", "normal")


def test_list_export_takes_the_lists_filters(agent: Any, inbox: Any, conversation: Any) -> None:
    resolved = f.ConversationFactory(inbox=inbox, status=Status.RESOLVED)
    rows = _csv_rows(_client(agent).get("/api/v1/conversations/export.csv?status=resolved"))
    assert [int(r["id"]) for r in rows] == [resolved.pk]
    rows = _csv_rows(_client(agent).get("/api/v1/conversations/export.csv?status=active,resolved&sort=oldest"))
    assert [int(r["id"]) for r in rows] == [conversation.pk, resolved.pk]


def test_list_export_with_a_bad_filter_is_a_400_before_streaming(agent: Any, conversation: Any) -> None:
    response = _client(agent).get("/api/v1/conversations/export.csv?status=exploded")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["message"]


def test_list_export_neutralizes_formulas_in_every_cell(agent: Any, inbox: Any) -> None:
    contact = f.ContactFactory(name='=HYPERLINK("http://evil.example","click")')
    f.ConversationFactory(inbox=inbox, contact=contact, subject="+1 555", last_message_preview="@attacker -2+3")
    [row] = _csv_rows(_client(agent).get("/api/v1/conversations/export.csv"))
    assert row["contact_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["subject"] == "'+1 555"
    assert row["last_message_preview"] == "'@attacker -2+3"


def test_safe_cell_leaves_plain_values_alone() -> None:
    assert exports.safe_cell("hello = world") == "hello = world"
    assert exports.safe_cell(-5) == -5
    assert exports.safe_cell("-5") == "'-5"
    assert exports.safe_cell("\t=1") == "'\t=1"


def _many_conversations(inbox: Any, count: int) -> None:
    contact: Any = f.ContactFactory()
    Conversation.objects.bulk_create(
        Conversation(inbox=inbox, contact=contact, subject=f"Question {i}") for i in range(count)
    )


def test_list_export_streams_rows_in_chunks_without_loading_them_all(agent: Any, inbox: Any) -> None:
    total = 5000
    _many_conversations(inbox, total)
    loaded = []

    def count(sender: Any, instance: Any, **kwargs: Any) -> None:
        loaded.append(instance)

    post_init.connect(count, sender=Conversation)
    try:
        response = _client(agent).get("/api/v1/conversations/export.csv")
        assert isinstance(response, StreamingHttpResponse)
        assert len(loaded) == 0  # nothing is read before the response starts
        chunks = iter(response.streaming_content)
        header = next(chunks)
        assert header.startswith(b"id,subject,status")
        first_rows = next(chunks)
        assert first_rows.count(b"\r\n") == exports.LINES_PER_CHUNK
        # One database chunk is in memory, not the whole result.
        assert exports.LINES_PER_CHUNK <= len(loaded) <= exports.CHUNK_SIZE < total
        with CaptureQueriesContext(connection) as queries:
            rest = b"".join(chunks)
        assert len(loaded) == total
        # A query per database chunk at most (the tags' prefetch), not per row.
        assert len(queries) <= total // exports.CHUNK_SIZE + 2
    finally:
        post_init.disconnect(count, sender=Conversation)
    lines = (header + first_rows + rest).decode().splitlines()
    assert len(lines) == total + 1


def test_list_export_under_asgi_streams_through_an_async_iterator(agent: Any, inbox: Any) -> None:
    # Under daphne a synchronous iterator would be collected into a list before sending.
    _many_conversations(inbox, 1200)
    client = AsyncClient()
    client.force_login(agent)
    response = async_to_sync(client.get)("/api/v1/conversations/export.csv")
    assert response.status_code == 200
    assert response.is_async

    async def collect() -> list[bytes]:
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(collect)()
    assert len(chunks) == 1 + 3  # the header, then 500 + 500 + 200 rows
    assert b"".join(chunks).decode().count("\r\n") == 1201
