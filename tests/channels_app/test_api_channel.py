"""The API channel: developers post customers' messages in, and receive agents' replies by signed POST."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from conversations import services, webhook_delivery
from conversations.models import ChannelIdentity, Contact, Conversation, DeliveryStatus, Message
from conversations.tasks import send_outbound_message
from inbox_project.celery import app as celery_app
from tests import factories as f
from tests.api.test_webhooks import Receiver


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True  # the receiver is on loopback
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def api_inbox(db: Any, agent: Any, teammate: Any, receiver: Receiver) -> Any:
    return f.InboxFactory(
        name="Partner app",
        kind="api",
        members=[agent, teammate],
        config={"outbound_url": receiver.url},
        assistant_enabled=False,
    )


@pytest.fixture
def eager_retries() -> Iterator[None]:
    """Run a task's retries at once, as Celery's eager mode does when it does not re-raise.

    With ``task_eager_propagates`` (the suite's default) a retry surfaces as a ``Retry`` exception
    from ``.delay()``; without it, eager ``apply`` runs the retried task again immediately,
    ignoring the countdown, until it succeeds or runs out of retries: the real task's retry path.
    """
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


def _post(inbox: Any, data: Any, *, token: str | None = None, raw: bytes | None = None) -> Any:
    headers = {} if token == "" else {"Authorization": f"Bearer {token if token is not None else inbox.webhook_token}"}
    return Client().post(
        f"/channels/api/{inbox.pk}/messages/",
        data=raw if raw is not None else json.dumps(data),
        content_type="application/json",
        headers=headers,
    )


def _message(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "message_id": "m-1",
        "contact": {"id": "cust-42", "name": "Carol Customer"},
        "body": "Where is my order?",
    }
    data.update(overrides)
    return data


# --- Inbound ------------------------------------------------------------------------------------


def test_posted_message_is_stored_in_a_new_conversation(api_inbox: Any) -> None:
    response = _post(api_inbox, _message())
    assert response.status_code == 201, response.content
    body = response.json()
    message = Message.objects.get(pk=body["id"])
    assert message.body == "Where is my order?"
    assert message.channel_message_id == "m-1"
    assert message.direction == "in"
    assert message.conversation.inbox == api_inbox
    assert body == {
        "id": message.pk,
        "message_id": "m-1",
        "conversation_id": message.conversation_id,
        "contact_id": message.sender_contact_id,
        "created": True,
    }
    contact = Contact.objects.get()
    assert contact.name == "Carol Customer"
    assert list(contact.identities.values_list("kind", "value")) == [("api", f"{api_inbox.pk}:cust-42")]


def test_repeated_message_id_stores_one_message(api_inbox: Any) -> None:
    first = _post(api_inbox, _message())
    again = _post(api_inbox, _message())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    assert Message.objects.count() == 1


def test_next_message_from_the_same_contact_joins_the_conversation(api_inbox: Any) -> None:
    first = _post(api_inbox, _message()).json()
    second = _post(api_inbox, _message(message_id="m-2", body="Any news?")).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert Conversation.objects.get().message_count == 2


def test_external_id_threads_messages_into_their_own_conversation(api_inbox: Any) -> None:
    a1 = _post(api_inbox, _message(message_id="1", external_id="ticket-a")).json()
    b1 = _post(api_inbox, _message(message_id="2", external_id="ticket-b")).json()
    a2 = _post(api_inbox, _message(message_id="3", external_id="ticket-a")).json()
    assert a1["conversation_id"] == a2["conversation_id"] != b1["conversation_id"]
    assert Message.objects.get(pk=a2["id"]).metadata["api"] == {"contact_id": "cust-42", "external_id": "ticket-a"}


def test_same_contact_id_in_two_api_inboxes_is_two_contacts(api_inbox: Any) -> None:
    other = f.InboxFactory(kind="api")
    _post(api_inbox, _message())
    _post(other, _message())
    assert Contact.objects.count() == 2


def test_email_joins_the_contact_who_already_has_it(api_inbox: Any, inbox: Any) -> None:
    known = f.ContactFactory(name="Carol from email")
    f.ChannelIdentityFactory(contact=known, kind="email", value="carol@example.com")
    f.ConversationFactory(inbox=inbox, contact=known)

    response = _post(api_inbox, _message(contact={"id": "cust-42", "email": "Carol@Example.com"}))

    assert response.json()["contact_id"] == known.pk
    assert Contact.objects.count() == 1
    assert set(known.identities.values_list("kind", flat=True)) == {"email", "api"}


def test_phone_joins_the_contact_who_already_has_it(api_inbox: Any) -> None:
    known = f.ContactFactory()
    f.ChannelIdentityFactory(contact=known, kind="phone", value="+14155550100")
    response = _post(api_inbox, _message(contact={"id": "cust-42", "phone": "+1 (415) 555-0100"}))
    assert response.json()["contact_id"] == known.pk


def test_new_contacts_email_and_phone_are_remembered(api_inbox: Any) -> None:
    _post(api_inbox, _message(contact={"id": "cust-42", "email": "new@example.com", "phone": "+14155550199"}))
    contact = Contact.objects.get()
    assert set(contact.identities.values_list("kind", "value")) == {
        ("api", f"{api_inbox.pk}:cust-42"),
        ("email", "new@example.com"),
        ("phone", "+14155550199"),
    }


def test_email_of_another_contact_is_not_taken_from_them(api_inbox: Any) -> None:
    _post(api_inbox, _message())  # cust-42 is known, without an email
    someone_else = f.ContactFactory()
    f.ChannelIdentityFactory(contact=someone_else, kind="email", value="shared@example.com")

    response = _post(api_inbox, _message(message_id="m-2", contact={"id": "cust-42", "email": "shared@example.com"}))

    assert response.status_code == 201
    assert response.json()["contact_id"] != someone_else.pk
    assert ChannelIdentity.objects.get(kind="email", value="shared@example.com").contact == someone_else


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"body": "hi"}).encode(), "contact is required"),
        (json.dumps({"contact": {"name": "x"}, "body": "hi"}).encode(), "contact.id is required"),
        (json.dumps({"contact": {"id": "c"}, "body": "  "}).encode(), "body is required"),
        (json.dumps({"contact": {"id": "c"}, "body": 5}).encode(), "body is required"),
        (json.dumps({"contact": {"id": ["c"]}, "body": "hi"}).encode(), "contact.id must be a string"),
        (json.dumps({"contact": {"id": "c", "email": "nope"}, "body": "hi"}).encode(), "contact.email"),
        (json.dumps({"contact": {"id": "c", "phone": "12"}, "body": "hi"}).encode(), "contact.phone"),
        (json.dumps({"contact": {"id": "c"}, "body": "hi", "message_id": "x" * 201}).encode(), "message_id"),
    ],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(api_inbox: Any, raw: bytes, says: str) -> None:
    response = _post(api_inbox, None, raw=raw)
    assert response.status_code == 400
    assert says in response.json()["error"]["message"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_missing_or_wrong_token_is_401_and_stores_nothing(api_inbox: Any, token: str) -> None:
    response = _post(api_inbox, _message(), token=token)
    assert response.status_code == 401
    assert "error" in response.json()
    assert not Message.objects.exists()
    assert not Contact.objects.exists()


def test_token_of_another_inbox_is_refused(api_inbox: Any) -> None:
    other = f.InboxFactory(kind="api")
    response = _post(api_inbox, _message(), token=other.webhook_token)
    assert response.status_code == 401
    assert not Message.objects.exists()


def test_unknown_inbox_is_401_like_a_wrong_token(api_inbox: Any) -> None:
    response = Client().post(
        "/channels/api/999999/messages/",
        data=json.dumps(_message()),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_inbox.webhook_token}"},
    )
    assert response.status_code == 401


def test_inbox_of_another_kind_is_refused(inbox: Any) -> None:
    response = _post(inbox, _message())
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_disabled_inbox_is_refused(api_inbox: Any) -> None:
    api_inbox.is_active = False
    api_inbox.save()
    assert _post(api_inbox, _message()).status_code == 403
    assert not Message.objects.exists()


def test_only_post_is_allowed(api_inbox: Any) -> None:
    response = Client().get(
        f"/channels/api/{api_inbox.pk}/messages/", headers={"Authorization": f"Bearer {api_inbox.webhook_token}"}
    )
    assert response.status_code == 405


# --- Outbound -----------------------------------------------------------------------------------


def _conversation(api_inbox: Any) -> Conversation:
    response = _post(api_inbox, _message(external_id="ticket-7"))
    return Conversation.objects.get(pk=response.json()["conversation_id"])


def test_agent_reply_is_posted_signed_to_the_outbound_url(
    api_inbox: Any, agent: Any, receiver: Receiver, committed: Any
) -> None:
    conversation = _conversation(api_inbox)
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="It ships today.")

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert webhook_delivery.verify_signature(
        secret=api_inbox.webhook_token, header=request["headers"]["X-Inbox-Signature"], body=request["body"]
    )
    assert request["headers"]["X-Inbox-Event"] == "message.outbound"
    assert request["headers"]["X-Inbox-Delivery"] == f"msg_{reply.pk}"
    payload = json.loads(request["body"])
    assert payload["id"] == f"msg_{reply.pk}"
    assert payload["type"] == "message.outbound"
    assert payload["data"]["message"]["body"] == "It ships today."
    assert payload["data"]["message"]["sender_name"] == "Alice Agent"
    assert payload["data"]["contact"]["id"] == "cust-42"
    assert payload["data"]["conversation"] == {"id": conversation.pk, "external_id": "ticket-7"}

    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.DELIVERED
    assert reply.delivered_at is not None


def test_private_notes_are_never_posted(api_inbox: Any, agent: Any, receiver: Receiver, committed: Any) -> None:
    conversation = _conversation(api_inbox)
    with committed():
        services.note_add(conversation=conversation, author=agent, body="VIP, be nice")
    assert receiver.requests == []


def test_server_error_is_retried_then_delivered(
    api_inbox: Any, agent: Any, receiver: Receiver, committed: Any, eager_retries: None
) -> None:
    receiver.statuses = [500, 200]
    conversation = _conversation(api_inbox)
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="Hello")
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["headers"]["X-Inbox-Delivery"] == receiver.requests[1]["headers"]["X-Inbox-Delivery"]
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.DELIVERED


def test_receiver_that_keeps_failing_fails_the_message_after_the_last_retry(
    api_inbox: Any, agent: Any, receiver: Receiver, committed: Any, eager_retries: None
) -> None:
    receiver.default_status = 503
    conversation = _conversation(api_inbox)
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="Hello")
    assert len(receiver.requests) == send_outbound_message.max_retries + 1
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert "HTTP 503" in reply.delivery_error


def test_client_error_fails_the_message_at_once_with_the_reason(
    api_inbox: Any, agent: Any, receiver: Receiver, committed: Any
) -> None:
    receiver.statuses = [400]
    conversation = _conversation(api_inbox)
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="Hello")
    assert len(receiver.requests) == 1
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert reply.delivery_error.startswith("HTTP 400")
    assert "scripted 400" in reply.delivery_error


def test_inbox_without_outbound_url_fails_the_reply_with_a_reason(
    api_inbox: Any, agent: Any, receiver: Receiver, committed: Any
) -> None:
    conversation = _conversation(api_inbox)
    api_inbox.config = {}
    api_inbox.save()
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="Hello")
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert "outbound_url" in reply.delivery_error
    assert receiver.requests == []
