"""Twilio outbound (SMS, WhatsApp) through the real twilio SDK against the local fake, and status callbacks."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.transports import TransportError, transport_for
from channels_app.twilio.transport import OUTSIDE_WHATSAPP_WINDOW, reply_refusal, send_twilio_message
from conversations import services
from conversations.models import DeliveryStatus, Message
from tests import factories as f
from tests.fakes.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    post_signed,
    sms_payload,
    status_payload,
    whatsapp_payload,
)

# fake_twilio (tests/channels_app/conftest.py): the account configured, the SDK pointed at a local fake.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_twilio")]


@pytest.fixture
def whatsapp_inbox(db: Any, agent: Any, team: Any) -> Any:
    return f.InboxFactory(name="WhatsApp", kind="whatsapp", members=[agent], default_team=team)


def customer_writes(client: Client, inbox: Any, payload: dict[str, str]) -> Any:
    response = post_signed(client, f"/channels/twilio/{inbox.webhook_token}/messages/", payload)
    assert response.status_code == 200
    return Message.objects.get(channel_message_id=payload["MessageSid"]).conversation


def reply(conversation: Any, agent: Any, committed: Any, body: str = "Your order ships today.") -> Message:
    with committed():
        message = services.message_send_reply(conversation=conversation, author=agent, body=body)
    message.refresh_from_db()
    return message


def post_status(client: Client, message: Message, status: str, **extra: Any) -> Any:
    path = f"/channels/twilio/{message.inbox.webhook_token}/status/"
    return post_signed(client, path, status_payload(message.channel_message_id or "SM" + "0" * 32, status, **extra))


# --- Sending --------------------------------------------------------------------------------


def test_sms_transport_is_registered_for_sms_and_whatsapp() -> None:
    assert transport_for("sms") is send_twilio_message
    assert transport_for("whatsapp") is send_twilio_message


def test_reply_is_sent_through_the_twilio_sdk_with_a_status_callback(
    client: Client, sms_inbox: Any, agent: Any, committed: Any, fake_twilio: Any
) -> None:
    conversation = customer_writes(client, sms_inbox, sms_payload(sender="+14155550100"))

    message = reply(conversation, agent, committed)

    (sent,) = fake_twilio.sent_messages
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent.param("To") == "+14155550100"
    assert sent.param("From") == "+15005550006"
    assert sent.param("Body") == "Your order ships today."
    assert sent.param("StatusCallback") == (
        f"{PUBLIC_BASE_URL}/channels/twilio/{sms_inbox.webhook_token}/status/?message={message.pk}"
    )
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.channel_message_id.startswith("SM")


def test_messaging_service_is_used_when_configured(
    client: Client, agent: Any, team: Any, committed: Any, fake_twilio: Any
) -> None:
    inbox = f.InboxFactory(
        kind="sms", members=[agent], config={"phone_number": "+15005550006", "messaging_service_sid": "MG" + "1" * 32}
    )
    conversation = customer_writes(client, inbox, sms_payload())

    reply(conversation, agent, committed)

    (sent,) = fake_twilio.sent_messages
    assert sent.param("MessagingServiceSid") == "MG" + "1" * 32
    assert sent.param("From") is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number +1415555 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
    ],
)
def test_permanent_twilio_error_fails_the_message_with_twilio_reason(
    client: Client, sms_inbox: Any, agent: Any, committed: Any, fake_twilio: Any, code: int, message: str
) -> None:
    conversation = customer_writes(client, sms_inbox, sms_payload())
    fake_twilio.fail_next(400, code=code, message=message)

    sent = reply(conversation, agent, committed)

    assert sent.delivery_status == DeliveryStatus.FAILED
    assert sent.delivery_error == f"{message} (Twilio error {code})"
    assert len(fake_twilio.sent_messages) == 1  # not retried


@pytest.mark.parametrize("status", [429, 500, 503])
def test_temporary_twilio_error_is_worth_a_retry(
    client: Client, sms_inbox: Any, agent: Any, fake_twilio: Any, status: int
) -> None:
    conversation = customer_writes(client, sms_inbox, sms_payload())
    message = services.message_send_reply(conversation=conversation, author=agent, body="Hello")
    fake_twilio.fail_next(status, code=20429 if status == 429 else None)

    with pytest.raises(TransportError) as error:
        send_twilio_message(message)

    assert error.value.permanent is False
    assert send_twilio_message(message).channel_message_id  # the retry goes through


def test_unreachable_twilio_is_worth_a_retry(
    client: Client, sms_inbox: Any, agent: Any, settings: Any, fake_twilio: Any
) -> None:
    conversation = customer_writes(client, sms_inbox, sms_payload())
    message = services.message_send_reply(conversation=conversation, author=agent, body="Hello")
    fake_twilio.stop()

    with pytest.raises(TransportError) as error:
        send_twilio_message(message)

    assert error.value.permanent is False
    assert "Could not reach Twilio" in error.value.reason


def test_reply_with_attachments_is_refused_rather_than_sent_without_them(
    client: Client, sms_inbox: Any, agent: Any, fake_twilio: Any
) -> None:
    conversation = customer_writes(client, sms_inbox, sms_payload())
    message = services.message_send_reply(
        conversation=conversation,
        author=agent,
        body="Invoice attached",
        attachments=[services.InboundAttachment("invoice.pdf", "application/pdf", b"%PDF")],
    )

    with pytest.raises(TransportError) as error:
        send_twilio_message(message)

    assert error.value.permanent is True
    assert not fake_twilio.sent_messages


# --- WhatsApp -------------------------------------------------------------------------------


def test_whatsapp_reply_inside_the_window_goes_to_the_whatsapp_address(
    client: Client, whatsapp_inbox: Any, agent: Any, committed: Any, fake_twilio: Any
) -> None:
    conversation = customer_writes(client, whatsapp_inbox, whatsapp_payload(sender="+14155550100"))

    message = reply(conversation, agent, committed)

    (sent,) = fake_twilio.sent_messages
    assert (sent.param("To"), sent.param("From")) == ("whatsapp:+14155550100", "whatsapp:+15005550007")
    assert message.delivery_status == DeliveryStatus.SENT


def test_whatsapp_free_form_reply_outside_the_window_is_refused_with_a_clear_reason(
    client: Client, whatsapp_inbox: Any, agent: Any, committed: Any, fake_twilio: Any
) -> None:
    conversation = customer_writes(client, whatsapp_inbox, whatsapp_payload())
    conversation.last_inbound_at = timezone.now() - timedelta(hours=24, minutes=1)
    conversation.save(update_fields=["last_inbound_at"])

    assert reply_refusal(conversation) == OUTSIDE_WHATSAPP_WINDOW
    message = reply(conversation, agent, committed)

    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error == OUTSIDE_WHATSAPP_WINDOW
    assert not fake_twilio.sent_messages


def test_whatsapp_window_is_open_for_24_hours(whatsapp_inbox: Any) -> None:
    now = timezone.now()
    conversation = f.ConversationFactory(inbox=whatsapp_inbox, last_inbound_at=now - timedelta(hours=23, minutes=59))

    assert reply_refusal(conversation, now=now) is None
    assert reply_refusal(conversation, now=now + timedelta(minutes=2)) == OUTSIDE_WHATSAPP_WINDOW
    assert reply_refusal(conversation, template=True, now=now + timedelta(days=3)) is None


def test_whatsapp_template_is_sent_outside_the_window_as_content_sid_and_variables(
    client: Client, whatsapp_inbox: Any, agent: Any, fake_twilio: Any
) -> None:
    conversation = customer_writes(client, whatsapp_inbox, whatsapp_payload(sender="+14155550100"))
    conversation.last_inbound_at = timezone.now() - timedelta(days=3)
    conversation.save(update_fields=["last_inbound_at"])
    message = services.message_send_reply(conversation=conversation, author=agent, body="Order update")
    Message.objects.filter(pk=message.pk).update(
        metadata={"whatsapp_template": {"content_sid": "HX" + "b" * 32, "variables": {"1": "Carol", "2": "today"}}}
    )
    message.refresh_from_db()

    result = send_twilio_message(message)

    (sent,) = fake_twilio.sent_messages
    assert sent.param("ContentSid") == "HX" + "b" * 32
    assert json.loads(sent.param("ContentVariables")) == {"1": "Carol", "2": "today"}
    assert sent.param("Body") is None
    assert result.channel_message_id


# --- Status callbacks -----------------------------------------------------------------------


@pytest.fixture
def sent_message(client: Client, sms_inbox: Any, agent: Any, committed: Any) -> Message:
    conversation = customer_writes(client, sms_inbox, sms_payload())
    return reply(conversation, agent, committed)


@pytest.mark.parametrize(
    ("twilio_status", "expected"),
    [("sending", "sent"), ("delivered", "delivered"), ("read", "read")],
)
def test_status_callback_moves_delivery_status_forward(
    client: Client, sent_message: Message, twilio_status: str, expected: str
) -> None:
    response = post_status(client, sent_message, twilio_status)

    assert response.status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.delivery_status == expected


def test_late_sent_after_delivered_stays_delivered(client: Client, sent_message: Message) -> None:
    post_status(client, sent_message, "delivered")

    response = post_status(client, sent_message, "sent")

    assert response.status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.delivery_status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize("twilio_status", ["undelivered", "failed"])
def test_failed_delivery_records_twilio_error(client: Client, sent_message: Message, twilio_status: str) -> None:
    post_status(client, sent_message, twilio_status, error_code="30007")

    sent_message.refresh_from_db()
    assert sent_message.delivery_status == DeliveryStatus.FAILED
    assert sent_message.delivery_error == "The carrier filtered the message as spam. (Twilio error 30007)"


def test_status_callback_before_the_send_recorded_the_sid_finds_the_message_by_its_url(
    client: Client, sms_inbox: Any, agent: Any
) -> None:
    conversation = customer_writes(client, sms_inbox, sms_payload())
    message = services.message_send_reply(conversation=conversation, author=agent, body="Hi")  # still queued
    path = f"/channels/twilio/{sms_inbox.webhook_token}/status/?message={message.pk}"

    post_signed(client, path, status_payload("SM" + "7" * 32, "delivered"))

    message.refresh_from_db()
    assert (message.delivery_status, message.channel_message_id) == ("delivered", "SM" + "7" * 32)


def test_status_callback_cannot_touch_another_inboxs_message(client: Client, sent_message: Message, agent: Any) -> None:
    other = f.InboxFactory(kind="sms", members=[agent])
    path = f"/channels/twilio/{other.webhook_token}/status/?message={sent_message.pk}"

    post_signed(client, path, status_payload(sent_message.channel_message_id, "failed", error_code="30008"))

    sent_message.refresh_from_db()
    assert sent_message.delivery_status == DeliveryStatus.SENT


def test_badly_signed_status_callback_changes_nothing(client: Client, sent_message: Message) -> None:
    path = f"/channels/twilio/{sent_message.inbox.webhook_token}/status/"
    payload = status_payload(sent_message.channel_message_id, "failed", error_code="30003")

    response = client.post(path, payload, HTTP_X_TWILIO_SIGNATURE="d3Jvbmc=")

    assert response.status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.delivery_status == DeliveryStatus.SENT


def test_status_callback_without_a_status_is_a_400(client: Client, sent_message: Message) -> None:
    path = f"/channels/twilio/{sent_message.inbox.webhook_token}/status/"
    payload = status_payload(sent_message.channel_message_id, "delivered")
    del payload["MessageStatus"], payload["SmsStatus"]

    response = post_signed(client, path, payload)

    assert response.status_code == 400
    assert "MessageStatus" in response.json()["error"]["message"]


def test_status_callback_for_a_message_we_did_not_send_is_ignored(client: Client, sms_inbox: Any) -> None:
    path = f"/channels/twilio/{sms_inbox.webhook_token}/status/"

    response = post_signed(client, path, status_payload("SM" + "5" * 32, "delivered"))

    assert response.status_code == 204
