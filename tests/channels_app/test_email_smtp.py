"""Outbound email by SMTP, against a real SMTP server (aiosmtpd) started by the tests."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from channels_app.email.inbound import receive_email
from channels_app.transports import TransportError, transport_for
from conversations.models import DeliveryStatus, Direction, Message, SenderKind
from conversations.services import message_send_reply
from tests import factories as f
from tests.fakes.mail_servers import SmtpSink, fixture_eml, free_port, running_smtp_sink, smtp_sink_fixture

smtp_sink = pytest.fixture(smtp_sink_fixture)
# The test server takes passwords without TLS on purpose (127.0.0.1 only).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

OUR_ID = re.compile(r"^<conv-(\d+)\.msg-(\d+)\.[A-Za-z0-9_-]{16,64}@example\.com>$")


@pytest.fixture
def email_inbox(db: Any, agent: Any, team: Any, smtp_sink: SmtpSink) -> Any:
    return f.InboxFactory(
        name="Acme Support",
        kind="email",
        members=[agent],
        default_team=team,
        config={
            "address": "support@example.com",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_sink.port,
            "smtp_use_tls": False,
        },
    )


@pytest.fixture
def customer_mail(email_inbox: Any) -> Message:
    """Carol wrote in; her mail itself answered an earlier one, so it carries a References chain."""
    raw = fixture_eml("reply_to_our_message.eml", OUR_MESSAGE_ID="<older-thread@example.com>")
    message = receive_email(inbox=email_inbox, raw=raw).message
    assert message is not None
    return message


def reply(conversation: Any, agent: Any, committed: Any, body: str = "Your refund is on its way.") -> Message:
    with committed():  # the send task runs after commit (eagerly in tests)
        message = message_send_reply(conversation=conversation, author=agent, body=body)
    message.refresh_from_db()
    return message


def test_agent_reply_is_sent_as_a_threaded_answer(
    customer_mail: Message, agent: Any, committed: Any, smtp_sink: SmtpSink
) -> None:
    sent = reply(customer_mail.conversation, agent, committed)

    [received] = smtp_sink.received
    mail = received.message
    assert received.mail_from == "support@example.com" and received.rcpt_tos == ["carol@example.com"]
    assert mail["From"].addresses[0].addr_spec == "support@example.com"
    assert mail["From"].addresses[0].display_name == "Acme Support"
    assert mail["To"].addresses[0].addr_spec == "carol@example.com"
    assert mail["Subject"] == "Re: Your refund"
    assert mail["In-Reply-To"] == "<reply-carol-1@example.com>"
    assert mail["References"].split() == [
        "<first-carol-0@example.com>",
        "<older-thread@example.com>",
        "<reply-carol-1@example.com>",
    ]
    assert mail.get_content().strip() == "Your refund is on its way."
    assert "Auto-Submitted" not in mail
    match = OUR_ID.match(mail["Message-ID"])
    assert match and (int(match[1]), int(match[2])) == (customer_mail.conversation_id, sent.pk)
    assert sent.channel_message_id == mail["Message-ID"]
    assert sent.delivery_status == DeliveryStatus.SENT


def test_customer_answer_to_our_mail_joins_the_same_conversation(
    customer_mail: Message, agent: Any, committed: Any, smtp_sink: SmtpSink, email_inbox: Any
) -> None:
    reply(customer_mail.conversation, agent, committed)
    our_mail = smtp_sink.received[0].message
    answer = (
        f"From: Carol Customer <carol@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: {our_mail['Subject']}\r\nMessage-ID: <carol-again@example.com>\r\n"
        f"In-Reply-To: {our_mail['Message-ID']}\r\nReferences: {our_mail['References']} {our_mail['Message-ID']}\r\n"
        f"\r\nThank you!\r\n"
    ).encode()

    stored = receive_email(inbox=email_inbox, raw=answer).message

    assert stored.conversation_id == customer_mail.conversation_id
    assert customer_mail.conversation.messages.filter(direction=Direction.INBOUND).count() == 2


def test_reply_with_attachment_carries_the_file(
    customer_mail: Message, agent: Any, committed: Any, smtp_sink: SmtpSink
) -> None:
    from conversations.services import InboundAttachment

    with committed():
        message_send_reply(
            conversation=customer_mail.conversation,
            author=agent,
            body="Invoice attached.",
            attachments=[InboundAttachment("invoice.pdf", "application/pdf", b"%PDF-1.4 test")],
        )

    mail = smtp_sink.received[0].message
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "invoice.pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"


def test_assistant_answer_says_it_was_automatic(customer_mail: Message, smtp_sink: SmtpSink) -> None:
    message = f.MessageFactory(
        conversation=customer_mail.conversation,
        direction=Direction.OUTBOUND,
        sender_kind=SenderKind.ASSISTANT,
        body="Here is what I found.",
        delivery_status=DeliveryStatus.QUEUED,
    )

    transport_for("email")(message)

    assert smtp_sink.received[0].message["Auto-Submitted"] == "auto-replied"


def test_first_outbound_mail_without_an_inbound_one_has_no_in_reply_to(email_inbox: Any, smtp_sink: SmtpSink) -> None:
    contact = f.ContactFactory(name="Dan")
    f.ChannelIdentityFactory(contact=contact, kind="email", value="dan@example.com")
    conversation = f.ConversationFactory(inbox=email_inbox, contact=contact, subject="Your trial")
    message = f.MessageFactory(
        conversation=conversation, direction=Direction.OUTBOUND, sender_kind=SenderKind.AGENT, body="Hello Dan"
    )

    transport_for("email")(message)

    mail = smtp_sink.received[0].message
    assert mail["To"].addresses[0].addr_spec == "dan@example.com"
    assert mail["Subject"] == "Re: Your trial"
    assert "In-Reply-To" not in mail and "References" not in mail


def _queued(customer_mail: Message) -> Message:
    """A reply waiting to be sent, loaded as the send task loads it (with the inbox as it is now)."""
    message = f.MessageFactory(
        conversation=customer_mail.conversation,
        direction=Direction.OUTBOUND,
        sender_kind=SenderKind.AGENT,
        body="Hi",
        delivery_status=DeliveryStatus.QUEUED,
    )
    return Message.objects.select_related("conversation__inbox", "conversation__contact").get(pk=message.pk)


def test_smtp_4xx_is_a_failure_worth_retrying(customer_mail: Message, smtp_sink: SmtpSink) -> None:
    smtp_sink.reply_to_rcpt = "451 4.7.1 Greylisted, try again later"

    with pytest.raises(TransportError) as failure:
        transport_for("email")(_queued(customer_mail))

    assert not failure.value.permanent
    assert "451" in failure.value.reason and "Greylisted" in failure.value.reason


def test_smtp_5xx_is_a_permanent_failure_with_the_servers_reply(customer_mail: Message, smtp_sink: SmtpSink) -> None:
    smtp_sink.reply_to_rcpt = "550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown"

    with pytest.raises(TransportError) as failure:
        transport_for("email")(_queued(customer_mail))

    assert failure.value.permanent
    assert "550 5.1.1" in failure.value.reason and "User unknown" in failure.value.reason


def test_data_refused_with_5xx_is_permanent(customer_mail: Message, smtp_sink: SmtpSink) -> None:
    smtp_sink.reply_to_data = "554 5.7.1 Message rejected as spam"

    with pytest.raises(TransportError) as failure:
        transport_for("email")(_queued(customer_mail))

    assert failure.value.permanent and "spam" in failure.value.reason


def test_permanent_failure_marks_the_reply_failed_with_the_reason(
    customer_mail: Message, agent: Any, committed: Any, smtp_sink: SmtpSink
) -> None:
    smtp_sink.reply_to_rcpt = "550 5.1.1 User unknown"

    sent = reply(customer_mail.conversation, agent, committed)

    assert sent.delivery_status == DeliveryStatus.FAILED
    assert "550 5.1.1 User unknown" in sent.delivery_error


def test_unreachable_smtp_server_is_a_failure_worth_retrying(customer_mail: Message, email_inbox: Any) -> None:
    email_inbox.config = {**email_inbox.config, "smtp_port": free_port()}  # nothing listens there
    email_inbox.save()

    with pytest.raises(TransportError) as failure:
        transport_for("email")(_queued(customer_mail))

    assert not failure.value.permanent and "unreachable" in failure.value.reason


def test_inbox_smtp_credentials_are_used(customer_mail: Message, email_inbox: Any) -> None:
    with running_smtp_sink(username="support@example.com", password="s3cret") as sink:
        email_inbox.config = {**email_inbox.config, "smtp_port": sink.port, "smtp_username": "support@example.com"}
        email_inbox.credentials = {"smtp_password": "s3cret"}
        email_inbox.save()

        transport_for("email")(_queued(customer_mail))

    assert sink.auth == {"username": "support@example.com"} and len(sink.received) == 1


def test_wrong_smtp_password_is_permanent(customer_mail: Message, email_inbox: Any) -> None:
    with running_smtp_sink(username="support@example.com", password="s3cret") as sink:
        email_inbox.config = {**email_inbox.config, "smtp_port": sink.port, "smtp_username": "support@example.com"}
        email_inbox.credentials = {"smtp_password": "wrong"}
        email_inbox.save()

        with pytest.raises(TransportError) as failure:
            transport_for("email")(_queued(customer_mail))

    assert failure.value.permanent and "535" in failure.value.reason


def test_without_smtp_host_the_project_email_settings_are_used(
    customer_mail: Message, email_inbox: Any, settings: Any, smtp_sink: SmtpSink
) -> None:
    email_inbox.config = {"address": "support@example.com"}
    email_inbox.save()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    transport_for("email")(_queued(customer_mail))

    assert len(smtp_sink.received) == 1


def test_no_smtp_server_anywhere_is_permanent(customer_mail: Message, email_inbox: Any, settings: Any) -> None:
    email_inbox.config = {"address": "support@example.com"}
    email_inbox.save()
    settings.EMAIL_HOST = ""

    with pytest.raises(TransportError) as failure:
        transport_for("email")(_queued(customer_mail))

    assert failure.value.permanent and "EMAIL_HOST" in failure.value.reason


def test_free_port_really_is_closed() -> None:
    # The unreachable-server test relies on it.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", free_port()), timeout=1):
        pass
