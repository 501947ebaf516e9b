"""15. Uploads: over 10 MB refused; HTML/SVG/JS served as downloads with nosniff; dangerous names normalized;
attachment URLs need authorization.

Stored files are only reachable through ``/api/v1/attachments/<id>/download/`` (agents who can see
the conversation) and the widget's own endpoint (the visitor of that conversation). Refusals by
channel are tested where they live: tests/api/test_messages.py (413, 415),
tests/channels_app/test_webchat.py (widget), tests/channels_app/test_email_inbound.py (names from mail).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conversations import services
from conversations.models import Attachment
from conversations.uploads import safe_filename

pytestmark = pytest.mark.django_db

HOSTILE_FILES = [
    ("page.html", "text/html", b"<html><script>alert(1)</script></html>"),
    ("logo.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
    ("app.js", "application/javascript", b"alert(1)"),
    ("notes.txt", "text/plain", b"<script>alert(1)</script>"),
]


def stored(conversation: Any, filename: str, content_type: str, content: bytes) -> Attachment:
    result = services.message_receive_inbound(
        inbox=conversation.inbox,
        identity_kind="email",
        identity_value="carol@example.com",
        body="see attached",
        attachments=[services.InboundAttachment(filename=filename, content_type=content_type, content=content)],
    )
    return Attachment.objects.get(message=result.message)


def test_the_default_limit_is_10_mb_and_bigger_is_refused(
    client: Client, agent: Any, conversation: Any, settings: Any
) -> None:
    assert settings.MAX_ATTACHMENT_BYTES == 10 * 1024 * 1024
    client.force_login(agent)
    big = SimpleUploadedFile("big.pdf", b"%PDF" + b"x" * (10 * 1024 * 1024), content_type="application/pdf")
    response = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"body": "x", "attachments": [big]},
        HTTP_X_CSRFTOKEN="",
        enforce_csrf_checks=False,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(("filename", "content_type", "content"), HOSTILE_FILES, ids=[f[0] for f in HOSTILE_FILES])
def test_active_content_is_served_as_a_download_with_nosniff(
    client: Client, agent: Any, conversation: Any, filename: str, content_type: str, content: bytes
) -> None:
    attachment = stored(conversation, filename, content_type, content)
    client.force_login(agent)
    listed = client.get(f"/api/v1/conversations/{attachment.message.conversation_id}/messages/").json()["results"]
    url = next(a["url"] for m in listed for a in m["attachments"] if a["id"] == attachment.pk)
    assert url == f"/api/v1/attachments/{attachment.pk}/download/"

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == content


def test_a_plain_image_is_shown_inline_still_sandboxed(client: Client, agent: Any, conversation: Any) -> None:
    attachment = stored(conversation, "photo.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    client.force_login(agent)
    response = client.get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_attachment_downloads_need_an_agent_of_the_inbox(
    client: Client, agent: Any, outsider: Any, conversation: Any
) -> None:
    attachment = stored(conversation, "invoice.pdf", "application/pdf", b"%PDF-1.4")
    url = f"/api/v1/attachments/{attachment.pk}/download/"
    assert client.get(url).status_code in (401, 403)  # nobody logged in
    client.force_login(outsider)
    assert client.get(url).status_code == 404  # an agent of another inbox
    client.force_login(agent)
    assert client.get(url).status_code == 200


def test_stored_files_have_no_public_url(client: Client, conversation: Any) -> None:
    attachment = stored(conversation, "invoice.pdf", "application/pdf", b"%PDF-1.4")
    assert client.get(attachment.file.url).status_code == 404


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        (".htaccess", "htaccess"),
        ("in\u200bvoice\u200d.pdf", "invoice.pdf"),  # zero-width characters
        ("report\u202egnp.exe", "reportgnp.exe"),  # a right-to-left override hiding .exe
        ("a/b/c.txt", "c.txt"),
        ("...", "attachment"),
        ("evil<script>.pdf", "evil_script_.pdf"),
    ],
)
def test_dangerous_filenames_are_normalized(sent: str, kept: str, conversation: Any) -> None:
    assert safe_filename(sent) == kept
    attachment = stored(conversation, sent, "text/plain", b"hi")
    assert attachment.filename == kept
    assert "/" not in attachment.file.name.split("attachments/", 1)[1].split("/", 3)[-1]
