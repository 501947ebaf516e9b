"""21. Secrets never appear in logs, error pages, the API or the back office.

Each secret is a recognisable marker: the Twilio auth token, SMTP and IMAP passwords stored on an
inbox, the Anthropic key, a webhook signing secret, an API key, credentials inside DATABASE_URL and
REDIS_URL. Then every back office list and change page, every API GET, Django's error report and
the logs of failing Twilio and IMAP logins are searched for them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import pytest
from django.contrib.admin.sites import site as admin_site
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.debug import ExceptionReporter

from channels_app.email import poller
from conversations import services
from core.models import ApiToken
from tests import factories as f
from tests.fakes.twilio_server import ACCOUNT_SID, running_fake_twilio

pytestmark = pytest.mark.django_db

MARKERS = {
    "twilio": "TWILIOsecret0123456789abcdef0123",
    "imap": "IMAPsecret-pass-5551",
    "smtp": "SMTPsecret-pass-7772",
    "anthropic": "sk-ant-ANTHROPICsecret-9993",
    "email_host": "HOSTsecret-pass-1114",
    "db": "DBsecret-pass-3335",
    "redis": "REDISsecret-pass-4446",
}


def leaked(text: str) -> list[str]:
    return [name for name, marker in MARKERS.items() if marker in text]


@pytest.fixture
def secrets_everywhere(settings: Any, supervisor: Any) -> dict[str, Any]:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = MARKERS["twilio"]
    settings.ANTHROPIC_API_KEY = MARKERS["anthropic"]
    settings.EMAIL_HOST_PASSWORD = MARKERS["email_host"]
    settings.DATABASE_URL = f"postgres://inbox:{MARKERS['db']}@db.internal:5432/inbox"
    settings.REDIS_URL = f"redis://:{MARKERS['redis']}@redis.internal:6379/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    email_inbox = f.InboxFactory(
        kind="email",
        members=[supervisor],
        config={"address": "help@example.com", "imap_host": "127.0.0.1", "imap_port": 1, "smtp_host": "127.0.0.1"},
        credentials={"imap_password": MARKERS["imap"], "smtp_password": MARKERS["smtp"]},
    )
    sms_inbox = f.InboxFactory(kind="sms", members=[supervisor], credentials={"auth_token": MARKERS["twilio"]})
    subscription = f.WebhookSubscriptionFactory()
    _token, key = ApiToken.issue(user=supervisor, name="ci")
    # The webhook signing secret is not searched for: supervisors are shown it (GET /api/v1/webhooks/), by design.
    assert subscription.secret
    MARKERS["api_key"] = key
    supervisor.is_superuser = True
    supervisor.save()
    conversation = f.ConversationFactory(inbox=sms_inbox)
    f.MessageFactory(conversation=conversation)
    return {"email_inbox": email_inbox, "sms_inbox": sms_inbox, "conversation": conversation}


def test_the_back_office_never_shows_a_secret(client: Client, supervisor: Any, secrets_everywhere: Any) -> None:
    client.force_login(supervisor)
    pages = []
    for model in admin_site._registry:
        meta = model._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    for obj in (secrets_everywhere["email_inbox"], secrets_everywhere["sms_inbox"]):
        pages.append(reverse("admin:conversations_inbox_change", args=[obj.pk]))
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert leaked(response.content.decode()) == [], page


def test_the_api_never_returns_a_secret(supervisor: Any, secrets_everywhere: Any) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(supervisor)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    ids = {
        "inboxes": secrets_everywhere["email_inbox"].pk,
        "conversations": secrets_everywhere["conversation"].pk,
    }
    checked = 0
    for path, item in schema["paths"].items():
        if "get" not in item or path.endswith("export.csv"):
            continue
        resource = path.split("/")[3]
        url = re.sub(r"\{[^}]+\}", str(ids.get(resource, secrets_everywhere["sms_inbox"].pk)), path)
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert leaked(body.decode(errors="replace")) == [], url
        checked += 1
    assert checked >= 20


def test_error_reports_hide_secrets_and_credentials_in_urls(secrets_everywhere: Any) -> None:
    request = RequestFactory().get("/boom/")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        reporter = ExceptionReporter(request, type(exc), exc, exc.__traceback__)
        html = reporter.get_traceback_html()
        text = reporter.get_traceback_text()
    assert leaked(html) == [] and leaked(text) == []
    assert "DATABASE_URL" in html  # the setting is listed, its value hidden


def test_an_error_page_in_production_says_nothing(client: Client, secrets_everywhere: Any, settings: Any) -> None:
    settings.DEBUG = False
    response = client.get("/admin/conversations/conversation/not-a-number/change/")
    assert response.status_code in (302, 404)
    assert leaked(response.content.decode()) == []


def test_failed_twilio_and_imap_logins_log_no_secret(
    secrets_everywhere: Any, supervisor: Any, caplog: Any, settings: Any
) -> None:
    with caplog.at_level(logging.DEBUG), running_fake_twilio() as fake:
        fake.auth_token = "the-real-token-is-different"
        settings.TWILIO_API_BASE_URL = fake.base_url
        conversation = services.message_receive_inbound(
            inbox=secrets_everywhere["sms_inbox"], identity_kind="phone", identity_value="+14155550199", body="hi"
        ).message.conversation
        reply = services.message_send_reply(conversation=conversation, author=supervisor, body="Hello")
        from conversations.tasks import send_outbound_message

        send_outbound_message.apply(args=[reply.pk])
        assert fake.sent_messages  # Twilio was asked, and refused the credentials
        with contextlib.suppress(Exception):  # nothing listens on port 1: a failed connection, recorded
            poller.poll_mailbox(inbox_id=secrets_everywhere["email_inbox"].pk)
    assert caplog.records
    assert leaked(caplog.text) == []
    for record in caplog.records:
        assert leaked(str(record.args)) == [] and leaked(str(record.exc_info)) == []
