from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conversations.models import Message
from tests import factories as f
from tests.api.conftest import error_of


def url(conversation: Any) -> str:
    return f"/api/v1/conversations/{conversation.pk}/messages/"


def test_messages_oldest_first_with_cursor(api: Any, conversation: Any) -> None:
    made = [f.MessageFactory(conversation=conversation) for _ in range(5)]
    first = api.get(url(conversation), {"page_size": 3}).json()
    second = api.get(first["next"]).json()
    assert [m["id"] for m in first["results"] + second["results"]] == [m.pk for m in made]
    assert second["next"] is None


def test_outsider_cannot_read_or_write_messages(client_for: Any, outsider: Any, conversation: Any) -> None:
    api = client_for(outsider)
    f.MessageFactory(conversation=conversation)
    assert api.get(url(conversation)).status_code == 404
    assert api.post(url(conversation), {"body": "hi"}, format="json").status_code == 404
    assert not Message.objects.filter(body="hi").exists()


def test_unknown_or_malformed_conversation_id_is_404(api: Any) -> None:
    assert api.get("/api/v1/conversations/999999/messages/").status_code == 404
    response = api.get("/api/v1/conversations/abc/messages/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_reply_is_queued_through_the_service(api: Any, conversation: Any, agent: Any, committed: Any) -> None:
    with committed():
        response = api.post(url(conversation), {"body": "Happy to help"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["direction"] == "out" and body["private"] is False
    message = Message.objects.get(pk=body["id"])
    assert message.sender_user == agent
    conversation.refresh_from_db()
    assert conversation.assignee == agent  # replying assigns an unassigned conversation


def test_private_note(api: Any, conversation: Any) -> None:
    response = api.post(url(conversation), {"body": "Customer seems upset", "private": True}, format="json")
    assert response.status_code == 201
    assert response.json()["private"] is True and response.json()["delivery_status"] == ""


def test_empty_message_is_a_400(api: Any, conversation: Any) -> None:
    response = api.post(url(conversation), {"body": "  "}, format="json")
    assert response.status_code == 400 and "body" in error_of(response)["fields"]


def test_customer_text_is_returned_as_data_not_markup(api: Any, conversation: Any) -> None:
    f.MessageFactory(conversation=conversation, body="<script>alert(1)</script>")
    response = api.get(url(conversation))
    assert response["Content-Type"] == "application/json"
    assert response.json()["results"][0]["body"] == "<script>alert(1)</script>"


def test_reply_with_attachments_by_multipart(api: Any, conversation: Any) -> None:
    files = [
        SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 fake", content_type="application/pdf"),
        SimpleUploadedFile("photo.png", b"\x89PNG fake", content_type="image/png"),
    ]
    response = api.post(url(conversation), {"body": "Here you go", "attachments": files}, format="multipart")
    assert response.status_code == 201, response.json()
    names = sorted(a["filename"] for a in response.json()["attachments"])
    assert names == ["invoice.pdf", "photo.png"]


def test_attachment_over_the_limit_is_413(api: Any, conversation: Any, settings: Any) -> None:
    settings.MAX_ATTACHMENT_BYTES = 1024
    big = SimpleUploadedFile("big.pdf", b"x" * 2048, content_type="application/pdf")
    response = api.post(url(conversation), {"body": "big", "attachments": [big]}, format="multipart")
    assert response.status_code == 413
    assert "at most" in error_of(response)["message"]
    assert not Message.objects.filter(conversation=conversation).exists()


def test_attachment_type_outside_the_allow_list_is_415(api: Any, conversation: Any) -> None:
    exe = SimpleUploadedFile("run.html", b"<script>", content_type="text/html")
    response = api.post(url(conversation), {"body": "x", "attachments": [exe]}, format="multipart")
    assert response.status_code == 415
    assert "text/html" in error_of(response)["message"]


def test_notes_cannot_carry_attachments(api: Any, conversation: Any) -> None:
    doc = SimpleUploadedFile("a.txt", b"hi", content_type="text/plain")
    response = api.post(url(conversation), {"body": "x", "private": "true", "attachments": [doc]}, format="multipart")
    assert response.status_code == 400


@pytest.mark.parametrize("size", [10, 100])
def test_message_list_query_count_is_constant(
    api: Any, conversation: Any, agent: Any, size: int, django_assert_num_queries: Any
) -> None:
    for i in range(size):
        if i % 2:
            message = f.MessageFactory(conversation=conversation)
            f.AttachmentFactory(message=message)
        else:
            f.MessageFactory(conversation=conversation, direction="out", sender_kind="agent", sender_user=agent)
    api.get(url(conversation))
    with django_assert_num_queries(4):  # token, conversation, messages, attachments
        response = api.get(url(conversation), {"page_size": size})
    assert len(response.json()["results"]) == size
