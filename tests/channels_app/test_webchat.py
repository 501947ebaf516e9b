"""The web chat widget's HTTP endpoints: origins, visitor tokens, identity, idempotency, limits, privacy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_app.webchat import visitors
from conversations import services
from conversations.models import Conversation, IdentityKind, Message
from tests import factories as f

ORIGIN = "https://www.example.com"
UA = "Mozilla/5.0 (X11; Linux x86_64) WidgetTest/1.0"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def url(inbox: Any, what: str) -> str:
    return f"/channels/webchat/{inbox.webhook_token}/{what}/"


def call(client: Any, inbox: Any, what: str, data: dict[str, Any], *, origin: str = ORIGIN, **extra: Any) -> Any:
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(
        url(inbox, what), json.dumps(data), content_type="application/json", HTTP_USER_AGENT=UA, **headers, **extra
    )


def start(client: Any, inbox: Any, **data: Any) -> dict[str, Any]:
    response = call(client, inbox, "session", data)
    assert response.status_code == 200, response.content
    return dict(response.json())


def say(client: Any, inbox: Any, token: str, body: str, **data: Any) -> Any:
    return call(client, inbox, "messages", {"token": token, "body": body, **data})


# --- Origins and CORS --------------------------------------------------------------------------


def test_preflight_from_an_allowed_origin_is_answered_with_cors_headers(client: Any, inbox: Any) -> None:
    response = client.options(url(inbox, "messages"), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["Access-Control-Allow-Headers"]
    assert response["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("origin", ["https://evil.example.net", "https://www.example.com.evil.net", "null", ""])
def test_requests_from_origins_not_allowed_are_refused_without_cors(client: Any, inbox: Any, origin: str) -> None:
    for what in ("session", "messages"):
        response = call(client, inbox, what, {"body": "hi"}, origin=origin)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in response
    preflight = client.options(url(inbox, "session"), HTTP_ORIGIN=origin or "https://evil.example.net")
    assert preflight.status_code == 403
    assert not Message.objects.exists()


def test_origins_are_per_inbox(client: Any, inbox: Any) -> None:
    other = f.InboxFactory(kind="webchat", config={"allowed_origins": ["https://shop.other.org"]})
    assert call(client, other, "session", {}).status_code == 403
    assert call(client, other, "session", {}, origin="https://shop.other.org").status_code == 200


def test_unknown_or_non_webchat_inbox_is_404(client: Any, sms_inbox: Any) -> None:
    assert call(client, sms_inbox, "session", {}).status_code == 404
    response = client.post("/channels/webchat/nope/session/", "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["message"]


def test_get_is_refused_with_a_clear_405(client: Any, inbox: Any) -> None:
    response = client.get(url(inbox, "session"), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 405
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_malformed_json_is_a_400(client: Any, inbox: Any) -> None:
    response = client.post(url(inbox, "messages"), "{nope", content_type="application/json", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


# --- Visitor token and history -----------------------------------------------------------------


def test_a_visitor_keeps_their_conversation_across_page_loads(client: Any, inbox: Any) -> None:
    first = start(client, inbox)
    assert first["conversation_id"] is None and first["messages"] == [] and first["ticket"] is None
    assert first["config"]["greeting"] == "Hi! How can we help?"
    token = first["token"]
    sent = say(client, inbox, token, "Where is my order?", client_id="aaaaaaaa1")
    assert sent.status_code == 201
    assert sent["Access-Control-Allow-Origin"] == ORIGIN

    again = start(client, inbox, token=token)  # the next page load
    assert again["token"] == token
    assert again["conversation_id"] == sent.json()["conversation_id"]
    assert [m["body"] for m in again["messages"]] == ["Where is my order?"]
    assert again["messages"][0]["client_id"] == "aaaaaaaa1"
    assert again["ticket"]
    conversation = Conversation.objects.get()
    assert conversation.contact.identities.get().kind == IdentityKind.WEB_VISITOR


def test_message_metadata_records_page_referrer_and_browser(client: Any, inbox: Any) -> None:
    token = start(client, inbox)["token"]
    say(
        client,
        inbox,
        token,
        "hello",
        page_url="https://www.example.com/pricing?plan=pro",
        referrer="https://search.example.org/?q=reader",
    )
    assert Message.objects.get().metadata == {
        "page_url": "https://www.example.com/pricing?plan=pro",
        "referrer": "https://search.example.org/?q=reader",
        "user_agent": UA,
        "identity_verified": False,
    }


def test_metadata_urls_that_are_not_http_are_dropped(client: Any, inbox: Any) -> None:
    token = start(client, inbox)["token"]
    say(client, inbox, token, "hello", page_url="javascript:alert(1)", referrer=42)
    assert Message.objects.get().metadata["page_url"] == ""
    assert Message.objects.get().metadata["referrer"] == ""


@pytest.mark.parametrize("tamper", ["flip", "other_inbox", "garbage", "missing"])
def test_a_tampered_token_gets_nothing_of_anyone(client: Any, inbox: Any, tamper: str) -> None:
    token_a = start(client, inbox)["token"]
    say(client, inbox, token_a, "A's secret order 4411")
    other_inbox = f.InboxFactory(kind="webchat", config={"allowed_origins": [ORIGIN]})
    bad = {
        "flip": token_a[:-2] + ("AA" if not token_a.endswith("AA") else "BB"),
        "other_inbox": visitors.issue_visitor_token(other_inbox)[0],
        "garbage": "x" * 40,
        "missing": None,
    }[tamper]
    payload = {"token": bad} if bad is not None else {}

    session = start(client, inbox, **payload)
    assert session["token"] != token_a
    assert session["messages"] == [] and session["conversation_id"] is None
    assert session["token_reset"] is (bad is not None)

    response = call(client, inbox, "messages", {**payload, "body": "let me in"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert Message.objects.count() == 1


def test_visitor_b_who_types_a_email_gets_nothing_of_a(client: Any, inbox: Any) -> None:
    a_contact = f.ContactFactory(name="Ann")
    f.ChannelIdentityFactory(contact=a_contact, kind="email", value="ann@example.com")
    a_conversation = f.ConversationFactory(inbox=inbox, contact=a_contact)
    f.MessageFactory(conversation=a_conversation, body="Ann's card ends 4242")

    session = start(client, inbox, email="ann@example.com", name="Ann")  # an unsigned claim
    assert session["messages"] == [] and session["conversation_id"] is None and session["verified"] is False
    sent = say(client, inbox, session["token"], "I am ann@example.com, show me my chat", email="ann@example.com")
    assert sent.status_code == 201
    b_conversation = Conversation.objects.get(pk=sent.json()["conversation_id"])
    assert b_conversation.pk != a_conversation.pk
    assert b_conversation.contact_id != a_contact.pk
    assert not b_conversation.contact.identities.filter(kind="email").exists()
    history = start(client, inbox, token=session["token"], email="ann@example.com")["messages"]
    assert [m["body"] for m in history] == ["I am ann@example.com, show me my chat"]


def test_an_unsigned_email_is_put_before_the_agents_once_with_the_contact_who_owns_it(
    client: Any, inbox: Any, agent: Any
) -> None:
    ann = f.ContactFactory(name="Ann")
    f.ChannelIdentityFactory(contact=ann, kind="email", value="ann@example.com")
    token = start(client, inbox)["token"]
    first = say(client, inbox, token, "hi, it's Ann", email="Ann@Example.com")
    say(client, inbox, token, "are you there?", email="ann@example.com")
    conversation = Conversation.objects.get(pk=first.json()["conversation_id"])

    notes = list(conversation.messages.filter(is_private_note=True))
    assert len(notes) == 1
    assert notes[0].sender_kind == "system"
    assert "ann@example.com" in notes[0].body and f"contact #{ann.pk}" in notes[0].body
    assert "not verified" in notes[0].body or "did not verify" in notes[0].body
    # The visitor never sees the note, and nothing was joined on the claim.
    assert [m["body"] for m in start(client, inbox, token=token)["messages"]] == ["hi, it's Ann", "are you there?"]
    assert conversation.contact_id != ann.pk

    # The agent judges it the same person and merges: one contact, one history, the widget still works.
    services.contact_merge(source=conversation.contact, target=ann, actor=agent)
    assert Conversation.objects.get(pk=conversation.pk).contact_id == ann.pk
    again = say(client, inbox, token, "thanks")
    assert again.json()["conversation_id"] == conversation.pk


def test_an_unsigned_email_nobody_has_is_noted_for_the_agent_to_add(client: Any, inbox: Any) -> None:
    token = start(client, inbox)["token"]
    sent = say(client, inbox, token, "hello", email="new@example.com")
    conversation = Conversation.objects.get(pk=sent.json()["conversation_id"])
    note = conversation.messages.get(is_private_note=True)
    assert "new@example.com" in note.body and "Add it to this contact" in note.body
    assert not conversation.contact.identities.filter(kind="email").exists()


def test_an_invalid_unsigned_email_is_ignored(client: Any, inbox: Any) -> None:
    token = start(client, inbox)["token"]
    sent = say(client, inbox, token, "hello", email="not an email")
    assert sent.status_code == 201
    assert not Message.objects.filter(is_private_note=True).exists()


def test_history_never_includes_private_notes(client: Any, inbox: Any, agent: Any) -> None:
    token = start(client, inbox)["token"]
    conversation = Conversation.objects.get(pk=say(client, inbox, token, "hi").json()["conversation_id"])
    services.note_add(conversation=conversation, author=agent, body="internal: VIP, offer refund")
    services.message_send_reply(conversation=conversation, author=agent, body="Hello from Alice")
    history = start(client, inbox, token=token)["messages"]
    assert [m["body"] for m in history] == ["hi", "Hello from Alice"]
    assert history[1]["sender_name"] == "Alice Agent"
    assert "confidence" not in history[1] and "is_private_note" not in history[1]


# --- Idempotency --------------------------------------------------------------------------------


def test_a_resend_with_the_same_client_id_creates_one_message(client: Any, inbox: Any) -> None:
    token = start(client, inbox)["token"]
    first = say(client, inbox, token, "queued while offline", client_id="c1ient-0001")
    again = say(client, inbox, token, "queued while offline", client_id="c1ient-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["message"]["id"] == again.json()["message"]["id"]
    assert again.json()["created"] is False
    assert Message.objects.count() == 1
    assert Conversation.objects.get().message_count == 1


def test_two_visitors_with_the_same_client_id_get_two_messages(client: Any, inbox: Any) -> None:
    for _ in range(2):
        token = start(client, inbox)["token"]
        assert say(client, inbox, token, "hi", client_id="same-id-123").status_code == 201
    assert Message.objects.count() == 2
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize(
    "data,message",
    [
        ({"body": ""}, "empty"),
        ({"body": "x" * 5001}, "at most 5000"),
        ({"body": 5}, "body must be a string"),
        ({"body": "hi", "client_id": "short"}, "client_id"),
        ({"body": "hi", "client_id": "../../etc"}, "client_id"),
        ({"body": "hi", "name": {"x": 1}}, "name must be a string"),
    ],
)
def test_bad_messages_are_refused_with_a_clear_400(client: Any, inbox: Any, data: dict[str, Any], message: str) -> None:
    token = start(client, inbox)["token"]
    response = say(client, inbox, token, **{"body": "", **data})
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert not Message.objects.exists()


# --- Identity verification ------------------------------------------------------------------------


def test_a_verified_email_joins_the_contact_and_their_history(client: Any, inbox: Any) -> None:
    contact = f.ContactFactory(name="Ann")
    f.ChannelIdentityFactory(contact=contact, kind="email", value="ann@example.com")
    earlier = f.ConversationFactory(inbox=inbox, contact=contact)
    f.MessageFactory(conversation=earlier, body="from last week")

    signed = {"user_id": "u-77", "user_hash": visitors.identity_hash(inbox, "u-77")}
    signed |= {"email": "Ann@Example.com", "email_hash": visitors.identity_hash(inbox, "Ann@Example.com")}
    session = start(client, inbox, **signed)
    assert session["verified"] is True
    assert session["conversation_id"] == earlier.pk
    assert [m["body"] for m in session["messages"]] == ["from last week"]
    sent = say(client, inbox, session["token"], "me again", **signed)
    assert sent.json()["conversation_id"] == earlier.pk
    assert Message.objects.get(body="me again").metadata["identity_verified"] is True
    assert contact.identities.filter(kind="api", value=f"webchat:{inbox.pk}:u-77", verified=True).exists()


def test_mail_from_an_address_first_verified_in_the_widget_joins_that_contact(client: Any, inbox: Any) -> None:
    signed = {"user_id": "bo@example.com", "user_hash": visitors.identity_hash(inbox, "bo@example.com")}
    session = start(client, inbox, **signed, name="Bo")
    chat = Conversation.objects.get(
        pk=say(client, inbox, session["token"], "hi from chat", **signed).json()["conversation_id"]
    )

    mailbox = f.InboxFactory(kind="email")
    mail = services.message_receive_inbound(
        inbox=mailbox, identity_kind=IdentityKind.EMAIL, identity_value="BO@example.com", body="hi by mail"
    )
    assert mail.message.conversation.contact_id == chat.contact_id
    assert set(Message.objects.filter(conversation__contact=chat.contact).values_list("body", flat=True)) == {
        "hi from chat",
        "hi by mail",
    }


def test_a_verified_user_id_is_one_contact_on_every_device(client: Any, inbox: Any) -> None:
    signed = {"user_id": "42", "user_hash": visitors.identity_hash(inbox, "42"), "name": "Dev One"}
    laptop = start(client, inbox, **signed)
    say(client, inbox, laptop["token"], "from the laptop", **signed)
    phone = start(client, inbox, **signed)  # another browser: a new visitor token
    assert phone["token"] != laptop["token"]
    assert [m["body"] for m in phone["messages"]] == ["from the laptop"]
    # Without the signed identity (logged out on that device) the history is not there.
    assert start(client, inbox, token=phone["token"])["messages"] == []


def test_an_email_signed_with_the_wrong_hash_joins_nothing(client: Any, inbox: Any) -> None:
    contact = f.ContactFactory()
    f.ChannelIdentityFactory(contact=contact, kind="email", value="ann@example.com")
    signed = {"user_id": "u-9", "user_hash": visitors.identity_hash(inbox, "u-9")}
    session = start(client, inbox, **signed, email="ann@example.com", email_hash=visitors.identity_hash(inbox, "u-9"))
    assert session["verified"] is True and session["conversation_id"] is None
    sent = say(client, inbox, session["token"], "hi", **signed, email="ann@example.com")
    assert Conversation.objects.get(pk=sent.json()["conversation_id"]).contact_id != contact.pk


@pytest.mark.parametrize("user_hash", ["0" * 64, "", "not-hex"])
def test_an_invalid_identity_hash_is_refused(client: Any, inbox: Any, user_hash: str) -> None:
    other_secret = f.InboxFactory(kind="webchat")
    forged = user_hash or visitors.identity_hash(other_secret, "42")
    response = call(client, inbox, "session", {"user_id": "42", "user_hash": forged})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "identity_invalid"
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # the widget can read why


def test_required_identity_verification_refuses_anonymous_visitors(client: Any, inbox: Any) -> None:
    inbox.config = {**inbox.config, "require_identity_verification": True}
    inbox.save()
    response = call(client, inbox, "session", {})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "identity_required"
    signed = {"user_id": "42", "user_hash": visitors.identity_hash(inbox, "42")}
    token = start(client, inbox, **signed)["token"]
    assert say(client, inbox, token, "hi").status_code == 403
    assert say(client, inbox, token, "hi", **signed).status_code == 201


# --- Attachments ------------------------------------------------------------------------------------


def post_file(client: Any, inbox: Any, token: str, upload: SimpleUploadedFile, **fields: Any) -> Any:
    data = {"token": token, "body": fields.pop("body", ""), "attachments": upload, **fields}
    return client.post(url(inbox, "messages"), data, HTTP_ORIGIN=ORIGIN)


def test_an_attachment_is_stored_and_only_its_visitor_can_download_it(client: Any, inbox: Any) -> None:
    token = start(client, inbox)["token"]
    response = post_file(client, inbox, token, SimpleUploadedFile("../shot.png", PNG, "image/png"), body="see")
    assert response.status_code == 201, response.content
    attachment = response.json()["message"]["attachments"][0]
    assert attachment["filename"] == "shot.png" and attachment["size"] == len(PNG)

    download = call(client, inbox, f"attachments/{attachment['id']}", {"token": token})
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Type"] == "image/png"

    intruder = start(client, inbox)["token"]
    refused = call(client, inbox, f"attachments/{attachment['id']}", {"token": intruder})
    assert refused.status_code == 404


@pytest.mark.parametrize(
    "upload,status",
    [
        (SimpleUploadedFile("x.html", b"<script>alert(1)</script>", "text/html"), 415),
        (SimpleUploadedFile("fake.png", b"<svg onload=alert(1)>", "image/png"), 415),
        (SimpleUploadedFile("big.png", PNG + b"\x00" * 2048, "image/png"), 413),
    ],
)
def test_attachments_of_wrong_type_or_size_are_refused(
    client: Any, inbox: Any, settings: Any, upload: SimpleUploadedFile, status: int
) -> None:
    settings.WEBCHAT_MAX_ATTACHMENT_BYTES = 1024
    token = start(client, inbox)["token"]
    response = post_file(client, inbox, token, upload)
    assert response.status_code == status
    assert response.json()["error"]["message"]
    assert not Message.objects.exists()


# --- Rate limits ------------------------------------------------------------------------------------


def test_messages_are_rate_limited_per_visitor_token(client: Any, inbox: Any, settings: Any) -> None:
    settings.WEBCHAT_RATE_LIMITS = {"message": (2, 60)}
    token = start(client, inbox)["token"]
    assert say(client, inbox, token, "one").status_code == 201
    assert say(client, inbox, token, "two").status_code == 201
    refused = say(client, inbox, token, "three")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert refused["Access-Control-Expose-Headers"] == "Retry-After"
    # Another visitor is not held back by the first one's limit.
    other = start(client, inbox)["token"]
    assert say(client, inbox, other, "hello").status_code == 201


def test_requests_are_rate_limited_per_client_ip_not_forwarded_for(client: Any, inbox: Any, settings: Any) -> None:
    settings.WEBCHAT_RATE_LIMITS = {"ip": (3, 60)}
    for n in range(3):
        assert call(client, inbox, "session", {}, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code == 200
    refused = call(client, inbox, "session", {}, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert call(client, inbox, "session", {}, REMOTE_ADDR="192.0.2.8").status_code == 200


# --- The snippet ------------------------------------------------------------------------------------


def test_the_widget_script_is_served_as_static_javascript(client: Any) -> None:
    from django.contrib.staticfiles import finders

    path = finders.find("webchat/widget.js")
    assert path, "webchat/widget.js is not found by the static finders"
    source = open(path, encoding="utf-8").read()  # noqa: SIM115
    assert "attachShadow" in source
    assert ".innerHTML" not in source and "insertAdjacentHTML" not in source and "document.write" not in source


def test_history_takes_the_same_number_of_queries_however_long_it_is(
    client: Any, inbox: Any, agent: Any, django_assert_num_queries: Any
) -> None:
    token = start(client, inbox)["token"]
    conversation = Conversation.objects.get(pk=say(client, inbox, token, "first").json()["conversation_id"])

    def grow(n: int) -> None:
        for i in range(n):
            services.message_send_reply(conversation=conversation, author=agent, body=f"reply {i}")
            post_file(client, inbox, token, SimpleUploadedFile(f"s{i}.png", PNG, "image/png"), body=f"shot {i}")

    grow(1)
    cache.clear()
    # inbox, identity, conversation, messages, their attachments: however many messages there are.
    with django_assert_num_queries(5):
        start(client, inbox, token=token)
    grow(5)
    cache.clear()
    with django_assert_num_queries(5):
        assert len(start(client, inbox, token=token)["messages"]) == 13


def test_with_the_shared_cache_down_the_widget_still_takes_messages_and_still_limits(
    client: Any, inbox: Any, settings: Any, caplog: Any
) -> None:
    from core import counters
    from tests.core.test_run_modes import free_port

    token = start(client, inbox)["token"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing answers there: Redis is down
        }
    }
    settings.WEBCHAT_RATE_LIMITS = {"message": (2, 60)}
    counters._local.clear()
    counters._warned_at = 0.0
    with caplog.at_level("ERROR", logger="core.counters"):
        assert say(client, inbox, token, "one").status_code == 201
        assert say(client, inbox, token, "two").status_code == 201
        assert say(client, inbox, token, "three").status_code == 429  # counted in the process meanwhile
    assert "shared cache is unreachable" in caplog.text
    assert list(Message.objects.filter(conversation__inbox=inbox).values_list("body", flat=True)) == ["one", "two"]
