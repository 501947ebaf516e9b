"""14. Script in customer-controlled text stays text: in the back office, in the API, in the widget's data.

Hostile strings go everywhere a customer (or a model's output) can put text: message bodies, email
HTML (through the email channel's sanitizer), subjects, contact names, filenames, tags, canned
responses, the assistant's replies. The back office pages are checked twice: their HTML holds no
live markup from those strings, and a real browser opening them runs none of it. The agent inbox
UI (/inbox/) and its Content-Security-Policy are checked by its own tests (branch ui).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.sites import site as admin_site
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from channels_app.email.sanitize import sanitize_html
from conversations.models import SenderKind
from tests import factories as f

pytestmark = pytest.mark.django_db

MARK = "__xss"
PAYLOADS = [
    f'"><script>window.{MARK}=1</script>',
    f'<img src=x onerror="window.{MARK}=1">',
    f"<svg onload=window.{MARK}=1>",
    f"javascript:window.{MARK}=1",
    f'</textarea><iframe srcdoc="<script>parent.{MARK}=1</script>">',
]
HOSTILE = " ".join(PAYLOADS)
LIVE_MARKUP = (f"<script>window.{MARK}", f'onerror="window.{MARK}', f"<svg onload=window.{MARK}", "<iframe srcdoc")


@pytest.fixture
def hostile(db: Any, supervisor: Any) -> dict[str, Any]:
    inbox = f.InboxFactory(name="Website", kind="email", members=[supervisor])
    contact = f.ContactFactory(name=HOSTILE[:200])
    conversation = f.ConversationFactory(inbox=inbox, contact=contact, subject=HOSTILE[:300])
    inbound = f.MessageFactory(
        conversation=conversation, body=HOSTILE, subject=HOSTILE[:300], html=sanitize_html(f"<p>Hello</p>{HOSTILE}")
    )
    assistant = f.MessageFactory(
        conversation=conversation, direction="out", sender_kind=SenderKind.ASSISTANT, body=HOSTILE
    )
    attachment = f.AttachmentFactory(message=inbound, filename=PAYLOADS[1][:255], file=ContentFile(b"x", name="x.txt"))
    tag = f.TagFactory(name=PAYLOADS[1][:50])
    conversation.tags.add(tag)
    canned = f.CannedResponseFactory(title=HOSTILE[:200], body=HOSTILE)
    f.ChannelIdentityFactory(contact=contact)
    return {
        "objects": [contact, conversation, inbound, assistant, attachment, tag, canned],
        "conversation": conversation,
    }


def admin_pages(objects: list[Any]) -> list[str]:
    pages = []
    for obj in objects:
        meta = obj._meta
        if type(obj) in admin_site._registry:
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
    return pages


def test_the_sanitizer_leaves_no_live_markup_in_email_html() -> None:
    clean = sanitize_html(f"<p>Hello</p>{HOSTILE}<a href='javascript:alert(1)'>x</a><style>*{{}}</style>")
    for live in (*LIVE_MARKUP, 'href="javascript:', "href='javascript:", "<style", "onload="):
        assert live not in clean


def test_back_office_pages_show_hostile_text_escaped(client: Client, supervisor: Any, hostile: dict[str, Any]) -> None:
    supervisor.is_superuser = True
    supervisor.save()
    client.force_login(supervisor)
    pages = admin_pages(hostile["objects"])
    assert len(pages) >= 10
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for live in LIVE_MARKUP:
            assert live not in html, f"{page} has live markup {live!r}"
    # ... and the text is there, escaped, not dropped.
    response = client.get(reverse("admin:conversations_contact_change", args=[hostile["objects"][0].pk]))
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in response.content.decode()


def test_the_api_returns_hostile_text_as_json_data(client: Client, supervisor: Any, hostile: dict[str, Any]) -> None:
    client.force_login(supervisor)
    conversation = hostile["conversation"]
    response = client.get(f"/api/v1/conversations/{conversation.pk}/messages/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    bodies = [m["body"] for m in response.json()["results"]]
    assert HOSTILE in bodies  # the text itself, unchanged: the client renders it as text


def test_the_widget_history_returns_hostile_text_as_json_data(client: Client, inbox: Any) -> None:
    from tests.channels_app.test_webchat import say, start

    token = start(client, inbox)["token"]
    sent = say(client, inbox, token, HOSTILE)
    assert sent.status_code == 201, sent.content
    again = start(client, inbox, token=token)
    assert [m["body"] for m in again["messages"]] == [HOSTILE]


def test_the_widget_script_never_renders_text_as_html() -> None:
    """The widget puts every message with textContent; no innerHTML or insertAdjacentHTML on message text."""
    source = (Path(__file__).resolve().parents[2] / "channels_app/webchat/static/webchat/widget.js").read_text()
    assert "textContent" in source
    for sink in ("insertAdjacentHTML", "document.write", "outerHTML", "eval(", "new Function"):
        assert sink not in source, sink


# --- In a real browser ---------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_script_runs_when_a_browser_opens_the_back_office_pages(
    live_server: Any, client: Client, supervisor: Any, hostile: dict[str, Any]
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip("needs Chromium at /usr/bin/chromium")
    supervisor.is_superuser = True
    supervisor.save()
    client.force_login(supervisor)
    session = client.cookies["sessionid"].value
    pages = admin_pages(hostile["objects"])
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            page = context.new_page()
            dialogs: list[str] = []

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            for path in pages:
                response = page.goto(live_server.url + path)
                assert response is not None and response.status == 200, path
                page.wait_for_load_state("load")
                assert page.evaluate(f"typeof window.{MARK}") == "undefined", f"a payload ran on {path}"
            assert dialogs == []
        finally:
            browser.close()
