"""Twilio inbound messages (SMS, WhatsApp): signatures, idempotency, contacts across channels, media."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from channels_app.twilio import inbound, media
from channels_app.twilio.tasks import PROCESS_MESSAGE
from conversations.models import Attachment, ChannelIdentity, Contact, Message
from core.models import OutboxEntry, OutboxState
from tests import factories as f
from tests.fakes.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    post_signed,
    running_fake_twilio,
    sign,
    sms_payload,
    whatsapp_payload,
    with_media,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_API_BASE_URL = ""
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL


@pytest.fixture
def fake_twilio(settings: Any) -> Any:
    with running_fake_twilio() as fake:
        settings.TWILIO_API_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def whatsapp_inbox(db: Any, agent: Any, team: Any) -> Any:
    return f.InboxFactory(name="WhatsApp", kind="whatsapp", members=[agent], default_team=team)


def messages_path(inbox: Any) -> str:
    return f"/channels/twilio/{inbox.webhook_token}/messages/"


# --- Storing and answering ------------------------------------------------------------------


def test_inbound_sms_is_stored_and_answered_with_empty_twiml(client: Client, sms_inbox: Any) -> None:
    payload = sms_payload(sender="(415) 555-0100", body="Where is my order?")

    response = post_signed(client, messages_path(sms_inbox), payload)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response />")
    message = Message.objects.get(inbox=sms_inbox)
    assert message.channel_message_id == payload["MessageSid"]
    assert message.body == "Where is my order?"
    assert message.direction == "in"
    assert message.metadata["twilio"]["to"] == "+15005550006"
    identity = ChannelIdentity.objects.get(contact=message.conversation.contact)
    assert (identity.kind, identity.value) == ("phone", "+14155550100")


def test_duplicate_message_sid_creates_one_message(client: Client, sms_inbox: Any) -> None:
    payload = sms_payload()

    first = post_signed(client, messages_path(sms_inbox), payload)
    second = post_signed(client, messages_path(sms_inbox), payload)

    assert (first.status_code, second.status_code) == (200, 200)
    assert Message.objects.filter(channel_message_id=payload["MessageSid"]).count() == 1


def test_the_webhook_accepts_a_message_in_two_queries_and_the_worker_stores_it(
    client: Client, sms_inbox: Any, django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    payload = sms_payload(body="Accepted")

    # The inbox, and the outbox entry that promises the storing: the same work as one INSERT.
    with django_assert_num_queries(2), django_capture_on_commit_callbacks(execute=False) as promised:
        response = client.post(
            messages_path(sms_inbox),
            payload,
            HTTP_X_TWILIO_SIGNATURE=sign(PUBLIC_BASE_URL + messages_path(sms_inbox), payload),
        )

    assert response.status_code == 200
    assert not Message.objects.exists()
    entry = OutboxEntry.objects.get()
    assert (entry.task_name, entry.args[0], entry.args[1]["Body"]) == (PROCESS_MESSAGE, sms_inbox.pk, "Accepted")
    for callback in promised:  # the commit hook publishes it (eager in the tests): now it is stored
        callback()
    assert Message.objects.get().body == "Accepted"
    entry.refresh_from_db()
    assert entry.state == OutboxState.DONE


def test_storing_a_message_to_an_open_conversation_takes_a_fixed_number_of_queries(
    client: Client, sms_inbox: Any, django_assert_num_queries: Any
) -> None:
    post_signed(client, messages_path(sms_inbox), sms_payload(body="First"))
    # The transaction (2), and in it under the contact's lock: contact (the same number on another
    # channel is looked for only when she is not found), conversation, message (its INSERT
    # recognises a retry), event, conversation update, the payload's tags, the webhook
    # subscriptions (read once for both events). It was 23, then 14 with a retry check and a
    # savepoint around the INSERT, the new message's attachments read back and a look for the
    # number on another channel first. (A message with media is looked for before its downloads.)
    with django_assert_num_queries(9):
        assert inbound.receive_message(sms_inbox, sms_payload(body="Second")) == "stored"
    conversation = Message.objects.get(body="Second").conversation
    assert conversation.message_count == 2
    assert conversation.last_message_preview == "Second"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_message_sid_creates_one_message(agent: Any, team: Any) -> None:
    inbox: Any = f.InboxFactory(kind="sms", members=[agent], default_team=team)
    payload = sms_payload(sender="+14155550177")
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(post_signed(Client(), messages_path(inbox), payload).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200, 200]
    assert Message.objects.filter(inbox=inbox, channel_message_id=payload["MessageSid"]).count() == 1
    assert Contact.objects.filter(identities__value="+14155550177").count() == 1


def test_webhook_is_never_rate_limited(client: Client, sms_inbox: Any) -> None:
    statuses = {post_signed(client, messages_path(sms_inbox), sms_payload()).status_code for _ in range(40)}

    assert statuses == {200}
    assert Message.objects.filter(inbox=sms_inbox).count() == 40


def test_whatsapp_message_joins_a_whatsapp_identity_named_from_the_profile(client: Client, whatsapp_inbox: Any) -> None:
    payload = whatsapp_payload(sender="+14155550123", name="Carol Customer")

    response = post_signed(client, messages_path(whatsapp_inbox), payload)

    assert response.status_code == 200
    message = Message.objects.get(inbox=whatsapp_inbox)
    assert message.conversation.contact.name == "Carol Customer"
    assert message.metadata["twilio"]["wa_id"] == "14155550123"
    assert list(message.conversation.contact.identities.values_list("kind", "value")) == [("whatsapp", "+14155550123")]


# --- Signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("not-a-signature", id="garbage"),
        pytest.param("other-token", id="signed-with-another-token"),
        pytest.param("other-host", id="signed-for-another-host"),
        pytest.param("other-params", id="signed-for-other-params"),
    ],
)
def test_badly_signed_webhook_is_refused_and_stores_nothing(
    client: Client, sms_inbox: Any, signature: str | None
) -> None:
    path = messages_path(sms_inbox)
    payload = sms_payload()
    headers: dict[str, str] = {}
    if signature == "not-a-signature":
        headers["HTTP_X_TWILIO_SIGNATURE"] = "bm90LWEtc2lnbmF0dXJl"
    elif signature == "other-token":
        headers["HTTP_X_TWILIO_SIGNATURE"] = sign(PUBLIC_BASE_URL + path, payload, token="0" * 32)
    elif signature == "other-host":
        headers["HTTP_X_TWILIO_SIGNATURE"] = sign("https://attacker.example.net" + path, payload)
    elif signature == "other-params":
        headers["HTTP_X_TWILIO_SIGNATURE"] = sign(PUBLIC_BASE_URL + path, {**payload, "Body": "original"})

    response = client.post(path, payload, **headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_signature"
    assert not Message.objects.exists()
    assert not Contact.objects.exists()


def test_without_an_auth_token_every_webhook_is_refused(client: Client, sms_inbox: Any, settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    payload = sms_payload()

    response = post_signed(client, messages_path(sms_inbox), payload, token="")

    assert response.status_code == 403
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("public_base_url", "signed_base"),
    [
        pytest.param("https://inbox.example.com", "https://inbox.example.com:443", id="signed-with-default-port"),
        pytest.param("https://inbox.example.com:443", "https://inbox.example.com", id="configured-with-port"),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000", id="custom-port"),
    ],
)
def test_signature_with_and_without_the_default_port_is_accepted(
    client: Client, sms_inbox: Any, settings: Any, public_base_url: str, signed_base: str
) -> None:
    settings.PUBLIC_BASE_URL = public_base_url
    path = messages_path(sms_inbox)

    response = post_signed(client, path, sms_payload(), signed_url=signed_base + path)

    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_signature_is_checked_against_the_public_https_url_behind_a_proxy(
    client: Client, sms_inbox: Any, settings: Any
) -> None:
    # The proxy terminates TLS and forwards over http to an internal host name.
    settings.ALLOWED_HOSTS = ["10.0.0.5"]
    path = messages_path(sms_inbox)

    response = post_signed(
        client, path, sms_payload(), HTTP_HOST="10.0.0.5:8000", HTTP_X_FORWARDED_PROTO="https", secure=False
    )

    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_unknown_extra_parameters_are_accepted_when_signed(client: Client, sms_inbox: Any) -> None:
    payload = {**sms_payload(), "AddOns": '{"status":"successful"}', "SomeFutureField": "x"}

    response = post_signed(client, messages_path(sms_inbox), payload)

    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_signed_query_string_is_part_of_the_signature(client: Client, sms_inbox: Any) -> None:
    path = messages_path(sms_inbox)
    payload = sms_payload()
    signature = sign(PUBLIC_BASE_URL + path + "?source=a", payload)

    accepted = client.post(path + "?source=a", payload, HTTP_X_TWILIO_SIGNATURE=signature)
    refused = client.post(path + "?source=b", sms_payload(), HTTP_X_TWILIO_SIGNATURE=signature)

    assert (accepted.status_code, refused.status_code) == (200, 403)


def test_unknown_webhook_token_is_404(client: Client, sms_inbox: Any) -> None:
    path = "/channels/twilio/no-such-token/messages/"

    response = post_signed(client, path, sms_payload())

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_an_sms_inbox_has_no_voice_webhook(client: Client, sms_inbox: Any) -> None:
    path = f"/channels/twilio/{sms_inbox.webhook_token}/voice/"

    assert post_signed(client, path, {"CallSid": "CA" + "1" * 32, "From": "+14155550100"}).status_code == 404


def test_webhook_needs_no_csrf_token_and_only_accepts_post(sms_inbox: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    path = messages_path(sms_inbox)

    assert post_signed(client, path, sms_payload()).status_code == 200
    assert client.get(path).status_code == 405


# --- Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"From": None}, "From", id="missing-from"),
        pytest.param({"MessageSid": None}, "MessageSid", id="missing-message-sid"),
        pytest.param({"From": "not a number"}, "phone number", id="bad-from"),
        pytest.param({"From": "whatsapp:+14155550100"}, "WhatsApp address", id="whatsapp-on-sms-inbox"),
        pytest.param({"NumMedia": "many"}, "NumMedia", id="bad-num-media"),
        pytest.param({"MessageSid": "SM'; DROP TABLE"}, "not a Twilio id", id="bad-message-sid"),
        pytest.param({"Body": ""}, "empty", id="empty-message"),
    ],
)
def test_bad_fields_are_a_400_that_says_what_is_wrong(
    client: Client, sms_inbox: Any, change: dict[str, str | None], expected: str
) -> None:
    payload = sms_payload()
    for key, value in change.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value

    response = post_signed(client, messages_path(sms_inbox), payload)

    assert response.status_code == 400
    assert expected in response.json()["error"]["message"]
    assert not Message.objects.exists()


def test_plain_number_on_a_whatsapp_inbox_is_a_400(client: Client, whatsapp_inbox: Any) -> None:
    payload = {**whatsapp_payload(), "From": "+14155550100"}

    response = post_signed(client, messages_path(whatsapp_inbox), payload)

    assert response.status_code == 400
    assert "WhatsApp address" in response.json()["error"]["message"]


# --- One contact across channels ------------------------------------------------------------


def test_whatsapp_from_a_number_known_by_sms_joins_that_contact(
    client: Client, sms_inbox: Any, whatsapp_inbox: Any
) -> None:
    post_signed(client, messages_path(sms_inbox), sms_payload(sender="+14155550100"))

    post_signed(client, messages_path(whatsapp_inbox), whatsapp_payload(sender="+14155550100"))

    contact = Contact.objects.get()
    assert sorted(contact.identities.values_list("kind", "value")) == [
        ("phone", "+14155550100"),
        ("whatsapp", "+14155550100"),
    ]
    assert contact.conversations.count() == 2


def test_sms_from_a_number_known_by_whatsapp_joins_that_contact(
    client: Client, sms_inbox: Any, whatsapp_inbox: Any
) -> None:
    post_signed(client, messages_path(whatsapp_inbox), whatsapp_payload(sender="+14155550100", name="Carol"))

    post_signed(client, messages_path(sms_inbox), sms_payload(sender="+1 415 555 0100"))

    contact = Contact.objects.get()
    assert contact.name == "Carol"
    assert sorted(contact.identities.values_list("kind", flat=True)) == ["phone", "whatsapp"]
    assert Message.objects.filter(conversation__contact=contact).count() == 2


def test_other_numbers_stay_other_contacts(client: Client, sms_inbox: Any, whatsapp_inbox: Any) -> None:
    post_signed(client, messages_path(sms_inbox), sms_payload(sender="+14155550100"))

    post_signed(client, messages_path(whatsapp_inbox), whatsapp_payload(sender="+14155550199"))

    assert Contact.objects.count() == 2


# --- Media ----------------------------------------------------------------------------------


def test_media_is_downloaded_from_twilio_with_the_account_credentials(
    client: Client, sms_inbox: Any, fake_twilio: Any
) -> None:
    url = fake_twilio.media_url()
    fake_twilio.add_media(url.removeprefix(fake_twilio.base_url), b"\x89PNG fake image", "image/png")
    payload = with_media(sms_payload(body=""), (url, "image/png"))

    response = post_signed(client, messages_path(sms_inbox), payload)

    assert response.status_code == 200
    attachment = Attachment.objects.get()
    assert attachment.content_type == "image/png"
    assert attachment.filename.endswith(".png")
    assert attachment.file.read() == b"\x89PNG fake image"
    (download,) = [r for r in fake_twilio.requests if r.method == "GET"]
    assert download.auth == (ACCOUNT_SID, AUTH_TOKEN)


def test_retried_delivery_does_not_download_the_media_again(client: Client, sms_inbox: Any, fake_twilio: Any) -> None:
    url = fake_twilio.media_url()
    fake_twilio.add_media(url.removeprefix(fake_twilio.base_url), b"jpeg", "image/jpeg")
    payload = with_media(sms_payload(), (url, "image/jpeg"))

    post_signed(client, messages_path(sms_inbox), payload)
    post_signed(client, messages_path(sms_inbox), payload)

    assert len([r for r in fake_twilio.requests if r.method == "GET"]) == 1
    assert Attachment.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://evil.example.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", id="other-host"),
        pytest.param("https://169.254.169.254/latest/meta-data/iam/", id="metadata-address"),
        pytest.param("https://10.0.0.7/internal", id="private-address"),
        pytest.param("http://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", id="plain-http"),
        pytest.param("https://api.twilio.com:8443/2010-04-01/Media/ME1", id="other-port"),
        pytest.param("https://api.twilio.com.evil.example.com/Media/ME1", id="suffix-trick"),
        pytest.param("https://user:pw@api.twilio.com/Media/ME1", id="credentials-in-url"),
        pytest.param("file:///etc/passwd", id="file-url"),
    ],
)
def test_media_from_anywhere_but_twilio_is_refused_and_the_message_kept(
    client: Client, sms_inbox: Any, url: str, caplog: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(media.requests.Session, "get", _no_network)
    payload = with_media(sms_payload(body="See the photo"), (url, "image/jpeg"))

    with caplog.at_level(logging.WARNING, logger="channels_app.twilio.media"):
        response = post_signed(client, messages_path(sms_inbox), payload)

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == "See the photo"
    assert not Attachment.objects.exists()
    assert message.metadata["twilio"]["media"][0]["error"]
    assert "not stored" in caplog.text


def _no_network(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a refused URL must not be fetched")


def test_a_media_host_resolving_to_a_private_address_is_refused(
    client: Client, sms_inbox: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.TWILIO_MEDIA_HOSTS = ["localhost"]  # misconfigured, or DNS pointing inside
    monkeypatch.setattr(media.requests.Session, "get", _no_network)
    payload = with_media(sms_payload(), ("https://localhost/Media/ME1", "image/jpeg"))

    post_signed(client, messages_path(sms_inbox), payload)

    assert "non-public address" in Message.objects.get().metadata["twilio"]["media"][0]["error"]


def test_media_only_message_with_refused_media_is_still_stored(client: Client, sms_inbox: Any) -> None:
    payload = with_media(sms_payload(body=""), ("https://evil.example.com/x.jpg", "image/jpeg"))

    response = post_signed(client, messages_path(sms_inbox), payload)

    assert response.status_code == 200
    assert "could not be downloaded" in Message.objects.get().body


def test_redirect_to_another_host_is_not_followed(client: Client, sms_inbox: Any, fake_twilio: Any) -> None:
    url = fake_twilio.media_url()
    fake_twilio.add_redirect(url.removeprefix(fake_twilio.base_url), "https://evil.example.com/steal")
    payload = with_media(sms_payload(), (url, "image/jpeg"))

    post_signed(client, messages_path(sms_inbox), payload)

    assert not Attachment.objects.exists()
    assert "not one of Twilio's media hosts" in Message.objects.get().metadata["twilio"]["media"][0]["error"]


def test_redirect_within_twilio_is_followed(client: Client, sms_inbox: Any, fake_twilio: Any) -> None:
    url = fake_twilio.media_url()
    target = fake_twilio.add_media("/cdn/ME123.jpg", b"jpeg bytes", "image/jpeg")
    fake_twilio.add_redirect(url.removeprefix(fake_twilio.base_url), target)
    payload = with_media(sms_payload(), (url, "image/jpeg"))

    post_signed(client, messages_path(sms_inbox), payload)

    assert Attachment.objects.get().file.read() == b"jpeg bytes"


def test_media_over_the_size_limit_is_refused(client: Client, sms_inbox: Any, fake_twilio: Any, settings: Any) -> None:
    settings.MAX_ATTACHMENT_BYTES = 1000
    url = fake_twilio.media_url()
    fake_twilio.add_media(url.removeprefix(fake_twilio.base_url), b"x" * 1001, "video/mp4")
    payload = with_media(sms_payload(), (url, "video/mp4"))

    response = post_signed(client, messages_path(sms_inbox), payload)

    assert response.status_code == 200
    assert not Attachment.objects.exists()
    assert "larger than" in Message.objects.get().metadata["twilio"]["media"][0]["error"]


def test_missing_media_is_reported_not_stored(client: Client, sms_inbox: Any, fake_twilio: Any) -> None:
    payload = with_media(sms_payload(), (fake_twilio.media_url(), "image/jpeg"))

    post_signed(client, messages_path(sms_inbox), payload)

    assert "HTTP 404" in Message.objects.get().metadata["twilio"]["media"][0]["error"]


@pytest.mark.django_db(transaction=True)
def test_media_is_downloaded_outside_any_transaction(sms_inbox: Any, fake_twilio: Any, monkeypatch: Any) -> None:
    url = fake_twilio.media_url()
    fake_twilio.add_media(url.removeprefix(fake_twilio.base_url), b"gif", "image/gif")
    in_transaction: list[bool] = []
    real_download = media.download

    def spy(*args: Any, **kwargs: Any) -> Any:
        in_transaction.append(connection.in_atomic_block)
        return real_download(*args, **kwargs)

    monkeypatch.setattr(media, "download", spy)

    post_signed(Client(), messages_path(sms_inbox), with_media(sms_payload(), (url, "image/gif")))

    assert in_transaction == [False]
    assert Attachment.objects.count() == 1
